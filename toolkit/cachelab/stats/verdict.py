"""Regression verdicts on a ratio of medians, in the manner of asv's compare.

A change is `worse` or `better` only when both hold: the confidence interval of the
ratio excludes 1 (the difference is not noise), and the ratio passes the threshold
factor (the difference is large enough to matter). Otherwise it is `same`. Groups
without enough samples on both sides get `incomparable`.

An old median of 0, as a warm build's `bytes_downloaded` or `cache_misses` often
has, leaves no ratio. Such a group is judged on the difference of medians: `worse`
or `better` when its interval excludes 0, else `same`. The threshold factor does
not apply there, because a rise from 0 is larger than any factor.
"""

from __future__ import annotations

import math

from cachelab.stats.bootstrap import DifferenceInterval, RatioInterval
from cachelab.stats.errors import StatsError

BETTER = "better"
WORSE = "worse"
SAME = "same"
INCOMPARABLE = "incomparable"
VERDICTS = (BETTER, WORSE, SAME, INCOMPARABLE)


def check_threshold(threshold: float) -> None:
    """Raise `StatsError` unless `threshold` is a finite factor above 1."""
    if not (math.isfinite(threshold) and threshold > 1.0):
        raise StatsError(
            f"threshold {threshold} must be a factor above 1",
            hint="Pass e.g. 1.1 to flag changes of 10% or more.",
        )


def judge(interval: RatioInterval | None, threshold: float = 1.1) -> str:
    """Return the verdict for a new/old ratio of a lower-is-better metric such as time."""
    check_threshold(threshold)
    if interval is None or not math.isfinite(interval.ratio):
        return INCOMPARABLE
    if not interval.excludes(1.0):
        return SAME
    if interval.ratio >= threshold:
        return WORSE
    if interval.ratio <= 1.0 / threshold:
        return BETTER
    return SAME


def judge_difference(interval: DifferenceInterval | None) -> str:
    """Return the verdict for a new - old difference of medians of a lower-is-better metric."""
    if interval is None or not math.isfinite(interval.difference):
        return INCOMPARABLE
    if interval.low > 0.0:
        return WORSE
    if interval.high < 0.0:
        return BETTER
    return SAME
