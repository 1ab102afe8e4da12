"""Go duration strings (`30s`, `1m30s`, `1.5h`), as HEALTHCHECK flags and CLI options take them.

The syntax follows Go's `time.ParseDuration`: one or more decimal numbers, each
with a unit, and no spaces. Go also accepts a leading sign, but this parser
rejects it because a negative interval or age is always a mistake here. Fractions
are computed with integers, so `1.1s` is exactly 1,100,000,000 ns, and digits
below one nanosecond are dropped.
"""

from __future__ import annotations

import re

NANOSECONDS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3_600 * 1_000_000_000,
}
# Days and weeks, which Go lacks. Only callers that ask for them accept them.
LONG_UNITS: dict[str, int] = {
    "d": 86_400 * 1_000_000_000,
    "w": 7 * 86_400 * 1_000_000_000,
}

_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h|d|w)")


def parse_duration_ns(text: str, *, long_units: bool = False) -> int:
    """Parse a Go duration into nanoseconds; raise ValueError on any other text.

    `0` alone needs no unit. With `long_units`, `d` (days) and `w` (weeks) are
    accepted as well.
    """
    units = {**NANOSECONDS, **LONG_UNITS} if long_units else NANOSECONDS
    if text == "0":
        return 0
    total = 0
    position = 0
    for match in _PART.finditer(text):
        whole, fraction, unit = match.groups()
        if match.start() != position or not (whole or fraction) or unit not in units:
            break
        scale = units[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        position = match.end()
    if position == 0 or position != len(text):
        names = ", ".join(units)
        raise ValueError(
            f"invalid duration {text!r}; expected numbers with units such as 90s, 1h30m "
            f"or 1.5h (units: {names})"
        )
    return total
