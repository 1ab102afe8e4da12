"""Durations on the command line: Go's form (`336h`, `1h30m`, `90s`) plus days (`7d`)."""

from __future__ import annotations

from datetime import timedelta

from cachelab.dockerfile.duration import parse_duration_ns


def parse_duration(text: str) -> timedelta:
    """Parse `1h30m`, `336h`, `7d` or `0` into a timedelta; raises ValueError otherwise.

    Units are ns, us, ms, s, m, h (as in Go's time.ParseDuration) and d, w (days
    and weeks, which Go lacks). Surrounding spaces are ignored, and negative
    durations are rejected. The result is rounded to whole microseconds.
    """
    nanoseconds = parse_duration_ns(text.strip(), long_units=True)
    return timedelta(microseconds=nanoseconds / 1000)


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
