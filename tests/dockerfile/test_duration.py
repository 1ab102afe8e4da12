"""Go duration strings, with and without the day and week units."""

from __future__ import annotations

import pytest

from cachelab.dockerfile.duration import parse_duration_ns

SECOND = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("30s", 30 * SECOND),
        ("1h2m", 3_720 * SECOND),
        ("1.5s", 1_500_000_000),
        (".5s", 500_000_000),
        ("5.s", 5 * SECOND),
        ("250ms", 250_000_000),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("7ns", 7),
        ("1.1s", 1_100_000_000),
        ("0.0000000019s", 1),
        ("2h45m30.5s", 9_930_500_000_000),
    ],
)
def test_go_durations(text: str, expected: int) -> None:
    assert parse_duration_ns(text) == expected


@pytest.mark.parametrize("text", ["", "0s0", "5", "s", ".s", "-5m", "+5m", "5 m", "1y", "7d", "2w", " 5s"])
def test_invalid_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration_ns(text)


def test_long_units_when_requested() -> None:
    assert parse_duration_ns("7d", long_units=True) == 7 * 86_400 * SECOND
    assert parse_duration_ns("1w2d", long_units=True) == 9 * 86_400 * SECOND
    assert parse_duration_ns("1.5d", long_units=True) == 36 * 3_600 * SECOND
