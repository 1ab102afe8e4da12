"""Repeated-measurement statistics: medians, IQR, bootstrap ratios and verdicts."""

from __future__ import annotations

from cachelab.record.environment import capture_environment
from cachelab.stats.bootstrap import RatioInterval, ratio_of_medians_interval
from cachelab.stats.compare import compare_builds, compare_recordings, compare_strategies
from cachelab.stats.errors import StatsError
from cachelab.stats.summary import SampleSummary, iqr, median, summarize
from cachelab.stats.verdict import BETTER, INCOMPARABLE, SAME, VERDICTS, WORSE, judge

__all__ = [
    "BETTER",
    "INCOMPARABLE",
    "SAME",
    "VERDICTS",
    "WORSE",
    "RatioInterval",
    "SampleSummary",
    "StatsError",
    "capture_environment",
    "compare_builds",
    "compare_recordings",
    "compare_strategies",
    "iqr",
    "judge",
    "median",
    "ratio_of_medians_interval",
    "summarize",
]
