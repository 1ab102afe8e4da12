"""Regression verdicts on a ratio of medians, in the manner of asv's compare.

A change is `worse` or `better` only when both hold: the confidence interval of the
ratio excludes 1 (the difference is not noise), and the ratio passes the threshold
factor (the difference is large enough to matter). Otherwise it is `same`. Groups
without enough samples on both sides get `incomparable`.

An interval from fewer than `min_samples_for_verdict` samples on a side gets
`inconclusive`, whatever it excludes. No test that uses only the order of the
values can reach 95% confidence with 3 samples per side: under identical
distributions one side lies wholly above the other with probability
2 / C(6, 3) = 10%. The percentile bootstrap interval ignores this limit. With 2
samples per side it excludes 1 whenever the sides do not overlap, one time in
three. In a simulation of identical lognormal sides (sigma 0.15 and 0.5, 600
trials per sample count, 2,000 resamples), the 95% interval excluded 1 in about
11% of trials with 3 samples per side, 7% to 10% with 4, and 2% to 5% with 5 to
10.

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
INCONCLUSIVE = "inconclusive"
VERDICTS = (BETTER, WORSE, SAME, INCOMPARABLE, INCONCLUSIVE)

# Minimum samples per side for a verdict at any confidence, from the coverage
# measured above. Higher confidence levels can need more (`min_samples_for_verdict`).
MIN_SAMPLES_FOR_VERDICT = 5


def check_threshold(threshold: float) -> None:
    """Raise `StatsError` unless `threshold` is a finite factor above 1."""
    if not (math.isfinite(threshold) and threshold > 1.0):
        raise StatsError(
            f"threshold {threshold} must be a factor above 1",
            hint="Pass e.g. 1.1 to flag changes of 10% or more.",
        )


def min_samples_for_verdict(confidence: float = 0.95) -> int:
    """Return the minimum samples per side for a verdict at `confidence`.

    That is `MIN_SAMPLES_FOR_VERDICT`, or more at high confidence. Under
    identical distributions, the most extreme order of two sides of n samples
    has probability 2 / C(2n, n). The count grows until that probability is at
    most 1 - `confidence`, so 0.999 needs 7.
    Raises `StatsError` unless `confidence` is strictly between 0 and 1.
    """
    if not 0.0 < confidence < 1.0:
        raise StatsError(
            f"confidence {confidence} is not between 0 and 1",
            hint="Pass a confidence level such as 0.95.",
        )
    count = MIN_SAMPLES_FOR_VERDICT
    while 2.0 / math.comb(2 * count, count) > 1.0 - confidence:
        count += 1
    return count


def judge(interval: RatioInterval | None, threshold: float = 1.1) -> str:
    """Return the verdict for a new/old ratio of a lower-is-better metric such as time.

    The verdict is `inconclusive` when the interval comes from fewer than
    `min_samples_for_verdict(interval.confidence)` samples on a side.
    """
    check_threshold(threshold)
    if interval is None or not math.isfinite(interval.ratio):
        return INCOMPARABLE
    if _too_few_samples(interval):
        return INCONCLUSIVE
    if not interval.excludes(1.0):
        return SAME
    if interval.ratio >= threshold:
        return WORSE
    if interval.ratio <= 1.0 / threshold:
        return BETTER
    return SAME


def judge_difference(interval: DifferenceInterval | None) -> str:
    """Return the verdict for a new - old difference of medians of a lower-is-better metric.

    As in `judge`, too few samples on a side make it `inconclusive`.
    """
    if interval is None or not math.isfinite(interval.difference):
        return INCOMPARABLE
    if _too_few_samples(interval):
        return INCONCLUSIVE
    if interval.low > 0.0:
        return WORSE
    if interval.high < 0.0:
        return BETTER
    return SAME


def _too_few_samples(interval: RatioInterval | DifferenceInterval) -> bool:
    # An interval built by hand carries no counts, so no minimum applies to it.
    if interval.old_n is None or interval.new_n is None:
        return False
    return min(interval.old_n, interval.new_n) < min_samples_for_verdict(interval.confidence)
