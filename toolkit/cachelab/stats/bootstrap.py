"""Bootstrap confidence intervals of the ratio, or difference, of two groups' medians.

Both groups are resampled with replacement, independently, and the ratio (or
difference) of the resampled medians is computed for every resample at once with
numpy. The interval is the percentile interval of those values. Results depend
only on the samples, the options and the seed.

The ratio needs an old median above 0. A count or byte total whose old median is
0 has no ratio, so its change is measured by the difference new - old instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from cachelab.stats.errors import StatsError
from cachelab.stats.summary import as_samples

# Upper bound on resampled values held at once, about 8 MB of float64 per group.
# Larger jobs run in batches drawn from the same generator, so results do not change.
MAX_VALUES_PER_BATCH = 1_000_000


@dataclass(frozen=True)
class RatioInterval:
    """Ratio `new_median / old_median` and its bootstrap confidence interval.

    `old_n` and `new_n` are the sample counts the interval was computed from,
    None for an interval built without samples.
    """

    ratio: float
    low: float
    high: float
    confidence: float
    old_n: int | None = None
    new_n: int | None = None

    def excludes(self, value: float = 1.0) -> bool:
        """Return whether `value` lies outside the interval."""
        return value < self.low or value > self.high


@dataclass(frozen=True)
class DifferenceInterval:
    """Difference `new_median - old_median`, in the metric's unit, and its bootstrap confidence interval.

    `old_n` and `new_n` are as in `RatioInterval`.
    """

    difference: float
    low: float
    high: float
    confidence: float
    old_n: int | None = None
    new_n: int | None = None

    def excludes(self, value: float = 0.0) -> bool:
        """Return whether `value` lies outside the interval."""
        return value < self.low or value > self.high


def ratio_of_medians_interval(
    old: Iterable[float],
    new: Iterable[float],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int | np.random.Generator = 0,
) -> RatioInterval:
    """Return the ratio of medians of `new` over `old` with a bootstrap interval.

    Raises `StatsError` when a group is empty, the old median is not positive,
    `resamples` is below 1, or `confidence` is not strictly between 0 and 1.
    """
    old_samples = as_samples(old)
    new_samples = as_samples(new)
    _check_inputs(old_samples, new_samples, confidence, resamples)
    if np.median(old_samples) <= 0:
        raise StatsError(
            f"old median is {np.median(old_samples)}, so a ratio to it is undefined",
            hint="Use difference_of_medians_interval for a metric whose old median can be 0 or less.",
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    old_medians = _resampled_medians(old_samples, resamples, rng)
    new_medians = _resampled_medians(new_samples, resamples, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = new_medians / old_medians

    low, high = _percentile_interval(ratios, confidence)
    ratio = float(np.median(new_samples) / np.median(old_samples))
    return RatioInterval(
        ratio=ratio, low=low, high=high, confidence=confidence,
        old_n=int(old_samples.size), new_n=int(new_samples.size),
    )


def difference_of_medians_interval(
    old: Iterable[float],
    new: Iterable[float],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int | np.random.Generator = 0,
) -> DifferenceInterval:
    """Return the median of `new` minus the median of `old` with a bootstrap interval.

    Unlike the ratio, the difference exists for any old median, 0 included.
    Raises `StatsError` when a group is empty, `resamples` is below 1, or
    `confidence` is not strictly between 0 and 1.
    """
    old_samples = as_samples(old)
    new_samples = as_samples(new)
    _check_inputs(old_samples, new_samples, confidence, resamples)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    old_medians = _resampled_medians(old_samples, resamples, rng)
    new_medians = _resampled_medians(new_samples, resamples, rng)
    low, high = _percentile_interval(new_medians - old_medians, confidence)
    difference = float(np.median(new_samples) - np.median(old_samples))
    return DifferenceInterval(
        difference=difference, low=low, high=high, confidence=confidence,
        old_n=int(old_samples.size), new_n=int(new_samples.size),
    )


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def _check_inputs(
    old: np.ndarray, new: np.ndarray, confidence: float, resamples: int
) -> None:
    if not old.size or not new.size:
        raise StatsError(
            f"cannot compare medians: old has {old.size} samples, new has {new.size}",
            hint="Record at least one successful build on each side.",
        )
    if not 0.0 < confidence < 1.0:
        raise StatsError(
            f"confidence {confidence} is not between 0 and 1",
            hint="Pass a confidence level such as 0.95.",
        )
    if resamples < 1:
        raise StatsError(
            f"resamples is {resamples}, must be at least 1",
            hint="Pass resamples=10000 or another positive count.",
        )


def _resampled_medians(
    samples: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    batch = max(1, MAX_VALUES_PER_BATCH // samples.size)
    medians = np.empty(resamples)
    for start in range(0, resamples, batch):
        stop = min(start + batch, resamples)
        indices = rng.integers(0, samples.size, size=(stop - start, samples.size))
        medians[start:stop] = np.median(samples[indices], axis=1)
    return medians
