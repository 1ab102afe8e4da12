"""Regression verdicts: interval and threshold must both agree."""

from __future__ import annotations

import math

import pytest

from cachelab.stats import BETTER, INCOMPARABLE, SAME, WORSE, RatioInterval, StatsError, judge


def interval(ratio: float, low: float, high: float) -> RatioInterval:
    return RatioInterval(ratio=ratio, low=low, high=high, confidence=0.95)


@pytest.mark.parametrize(
    "ratio, low, high, threshold, expected",
    [
        (1.30, 1.25, 1.35, 1.1, WORSE),
        (1.30, 1.25, 1.35, 1.5, SAME),
        (0.70, 0.65, 0.75, 1.1, BETTER),
        (0.70, 0.65, 0.75, 1.5, SAME),
        (1.30, 0.95, 1.60, 1.1, SAME),
        (1.05, 1.02, 1.08, 1.1, SAME),
        (1.10, 1.05, 1.15, 1.1, WORSE),
    ],
)
def test_verdict_table(
    ratio: float, low: float, high: float, threshold: float, expected: str
) -> None:
    assert judge(interval(ratio, low, high), threshold) == expected


def test_no_interval_is_incomparable() -> None:
    assert judge(None) == INCOMPARABLE
    assert judge(interval(math.inf, 2.0, math.inf)) == INCOMPARABLE


@pytest.mark.parametrize("threshold", [1.0, 0.9, math.nan, math.inf])
def test_threshold_must_exceed_one(threshold: float) -> None:
    with pytest.raises(StatsError, match="must be a factor above 1"):
        judge(interval(1.0, 1.0, 1.0), threshold)
