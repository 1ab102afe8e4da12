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
