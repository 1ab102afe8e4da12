"""Argument types that several subcommands share."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """Return `text` as a whole number of at least 1; raise ArgumentTypeError otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a whole number of at least 1")
    return value


def non_empty(text: str) -> str:
    """Return `text` unchanged; raise ArgumentTypeError when it is empty or only whitespace.

    The shell passes `--record ''` and `--record "$UNSET"` as an empty value,
    which would otherwise turn the option off or record an empty name without a message.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a non-empty value")
    return text


def seconds_or_duration(text: str) -> float:
    """Return `text`, plain seconds (`300`) or a duration (`5m`, `1h30m`, `7d`), as seconds.

    Raises ArgumentTypeError for anything else, including a negative value.
    """
    from cachelab.cachels.duration import parse_duration

    invalid = argparse.ArgumentTypeError(
        f"invalid value {text!r}: expected seconds (such as 300) "
        "or a duration with units (such as 5m or 1h30m)"
    )
    try:
        seconds = float(text)
    except ValueError:
        try:
            return parse_duration(text).total_seconds()
        except ValueError:
            raise invalid from None
    if not 0 <= seconds < float("inf"):
        raise invalid
    return seconds
