"""Durations on the command line: Go's form (`336h`, `1h30m`, `90s`) plus days (`7d`)."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d|w)")
_UNITS = {
    "ns": timedelta(microseconds=0.001),
    "us": timedelta(microseconds=1),
    "µs": timedelta(microseconds=1),
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


def parse_duration(text: str) -> timedelta:
    """Parse `1h30m`, `336h`, `7d` or `0` into a timedelta; raises ValueError otherwise.

    Units are ns, us, ms, s, m, h (as in Go's time.ParseDuration) and d, w (days
    and weeks, which Go lacks). Negative durations are rejected.
    """
    value = text.strip()
    if value == "0":
        return timedelta(0)
    total = timedelta(0)
    position = 0
    for match in _PART.finditer(value):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(value):
        raise ValueError(f"invalid duration {text!r}; expected a number with a unit, such as 12h, 90m or 7d")
    return total


def format_age(age: timedelta) -> str:
    """Render an age coarsely: `45s`, `12m`, `5h3m`, `3d4h`."""
    seconds = int(age.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours}h"
    if hours:
        return f"{sign}{hours}h{minutes}m"
    if minutes:
        return f"{sign}{minutes}m"
    return f"{sign}{seconds}s"
