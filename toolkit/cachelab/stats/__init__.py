"""Repeated-measurement statistics: medians, IQR, bootstrap ratios and differences, verdicts."""

from __future__ import annotations

from cachelab.record.environment import capture_environment
from cachelab.stats.bootstrap import (
    DifferenceInterval,
    RatioInterval,
    difference_of_medians_interval,
    ratio_of_medians_interval,
)
from cachelab.stats.compare import compare_builds, compare_recordings, compare_strategies
from cachelab.stats.errors import StatsError
from cachelab.stats.summary import SampleSummary, iqr, median, summarize
from cachelab.stats.verdict import (
    BETTER,
    INCOMPARABLE,
    INCONCLUSIVE,
    MIN_SAMPLES_FOR_VERDICT,
    SAME,
    VERDICTS,
    WORSE,
    judge,
    judge_difference,
    min_samples_for_verdict,
)

__all__ = [
    "BETTER",
    "INCOMPARABLE",
    "INCONCLUSIVE",
    "MIN_SAMPLES_FOR_VERDICT",
    "SAME",
    "VERDICTS",
    "WORSE",
    "DifferenceInterval",
    "RatioInterval",
    "SampleSummary",
    "StatsError",
    "capture_environment",
    "compare_builds",
    "compare_recordings",
    "compare_strategies",
    "difference_of_medians_interval",
    "iqr",
    "judge",
    "judge_difference",
    "median",
    "min_samples_for_verdict",
    "ratio_of_medians_interval",
    "summarize",
]
