"""Compare groups of repeated build timings: two result sets, or two strategies.

`compare_builds` pairs the groups (dockerfile_id, scenario, strategy) of an old and
a new result set, as asv's compare pairs benchmarks of two commits.
`compare_strategies` pairs two strategies of one result set per (dockerfile_id,
scenario). Both report medians, IQR, the ratio of medians with its bootstrap
interval and a verdict.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cachelab.record import Recording
from cachelab.stats.bootstrap import ratio_of_medians_interval
from cachelab.stats.errors import StatsError
from cachelab.stats.summary import as_samples, summarize
from cachelab.stats.verdict import INCOMPARABLE, check_threshold, judge

logger = logging.getLogger(__name__)

GROUP_COLUMNS = ("dockerfile_id", "scenario", "strategy")
STRATEGY_GROUP_COLUMNS = ("dockerfile_id", "scenario")
STATISTIC_COLUMNS = (
    "old_n",
    "new_n",
    "old_median",
    "new_median",
    "old_iqr",
    "new_iqr",
    "ratio",
    "ci_low",
    "ci_high",
    "verdict",
)
RESULT_COLUMNS = (*GROUP_COLUMNS, *STATISTIC_COLUMNS)

Samples = dict[tuple[object, ...], np.ndarray]


@dataclass(frozen=True)
class ComparisonOptions:
    """Options of a comparison. `compare_builds` documents each field."""

    metric: str = "wall_s"
    threshold: float = 1.1
    confidence: float = 0.95
    resamples: int = 10_000
    min_samples: int = 2
    seed: int = 0


def compare_builds(
    old: pd.DataFrame,
    new: pd.DataFrame,
    *,
    metric: str = "wall_s",
    threshold: float = 1.1,
    confidence: float = 0.95,
    resamples: int = 10_000,
    min_samples: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """Return one row per (dockerfile_id, scenario, strategy) with ratio and verdict.

    The ratio is the median of `metric` in `new` over its median in `old`, so for a
    time a ratio above 1 means `new` is slower. Only builds with `outcome == "ok"` count. A
    group present on one side only, or with fewer than `min_samples` values on
    either side, is `incomparable` and has NA ratio and interval. Groups are
    processed in sorted order with one generator seeded by `seed`, so results are
    reproducible.

    NOTE: the builds of every step of a scenario are pooled, so a cold build and
    its warm rebuilds fall into one group. Select one `step` first (for example
    `builds[builds.step == 1]`) to compare warm rebuilds alone.
    """
    options = ComparisonOptions(
        metric=metric,
        threshold=threshold,
        confidence=confidence,
        resamples=resamples,
        min_samples=min_samples,
        seed=seed,
    )
    check_threshold(threshold)
    _check_columns("old", old, (*GROUP_COLUMNS, metric, "outcome"))
    _check_columns("new", new, (*GROUP_COLUMNS, metric, "outcome"))

    old_groups = _samples_by_group(old, GROUP_COLUMNS, metric)
    new_groups = _samples_by_group(new, GROUP_COLUMNS, metric)
    return _compare(old_groups, new_groups, GROUP_COLUMNS, options)


def compare_recordings(old: Recording, new: Recording, **options: object) -> pd.DataFrame:
    """Return `compare_builds` of the builds tables of two recordings."""
    return compare_builds(old.builds, new.builds, **options)  # type: ignore[arg-type]


def compare_strategies(
    builds: pd.DataFrame,
    baseline: str,
    other: str,
    *,
    by: Sequence[str] = STRATEGY_GROUP_COLUMNS,
    metric: str = "wall_s",
    threshold: float = 1.1,
    confidence: float = 0.95,
    resamples: int = 10_000,
    min_samples: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """Return one row per `by` group comparing strategy `other` with `baseline`.

    Columns are those of `compare_builds` with `baseline_` and `other_` in place of
    `old_` and `new_`. The ratio is other over baseline, so `better` means `other`
    is faster by more than the threshold factor and the interval excludes 1.
    """
    options = ComparisonOptions(
        metric=metric,
        threshold=threshold,
        confidence=confidence,
        resamples=resamples,
        min_samples=min_samples,
        seed=seed,
    )
    check_threshold(threshold)
    columns = tuple(by)
    _check_columns("", builds, (*columns, "strategy", metric, "outcome"))
    for strategy in (baseline, other):
        if not (builds["strategy"] == strategy).any():
            raise StatsError(
                f"builds table has no build of strategy {strategy!r}",
                hint="Pass strategy names that occur in the builds table.",
            )

    baseline_groups = _samples_by_group(builds[builds["strategy"] == baseline], columns, metric)
    other_groups = _samples_by_group(builds[builds["strategy"] == other], columns, metric)
    result = _compare(baseline_groups, other_groups, columns, options)
    renamed = {
        column: column.replace("old_", "baseline_").replace("new_", "other_")
        for column in STATISTIC_COLUMNS
    }
    return result.rename(columns=renamed)


def _check_columns(name: str, builds: pd.DataFrame, required: Sequence[str]) -> None:
    missing = [column for column in required if column not in builds.columns]
    if missing:
        table = f"{name} builds table" if name else "builds table"
        raise StatsError(
            f"{table} lacks columns: {', '.join(missing)}",
            hint="Pass the builds table of a Recording.",
        )


def _samples_by_group(builds: pd.DataFrame, columns: Sequence[str], metric: str) -> Samples:
    ok = builds[builds["outcome"] == "ok"]
    groups = {}
    for key, frame in ok.groupby(list(columns), dropna=False, sort=False):
        parts = key if isinstance(key, tuple) else (key,)
        groups[tuple(None if pd.isna(part) else part for part in parts)] = as_samples(
            frame[metric]
        )
    return groups


def _compare(
    old_groups: Samples,
    new_groups: Samples,
    columns: Sequence[str],
    options: ComparisonOptions,
) -> pd.DataFrame:
    rng = np.random.default_rng(options.seed)
    rows = []
    for key in sorted(old_groups.keys() | new_groups.keys(), key=_sort_key):
        statistics = _compare_group(
            old_groups.get(key, np.empty(0)), new_groups.get(key, np.empty(0)), options, rng
        )
        rows.append({**dict(zip(columns, key)), **statistics})
    return _result_frame(rows, columns)


def _sort_key(key: tuple[object, ...]) -> tuple[str, ...]:
    return tuple("" if part is None else str(part) for part in key)


def _compare_group(
    old_samples: np.ndarray,
    new_samples: np.ndarray,
    options: ComparisonOptions,
    rng: np.random.Generator,
) -> dict[str, object]:
    old_summary = summarize(old_samples)
    new_summary = summarize(new_samples)
    row: dict[str, object] = {
        "old_n": old_summary.n,
        "new_n": new_summary.n,
        "old_median": old_summary.median,
        "new_median": new_summary.median,
        "old_iqr": old_summary.iqr,
        "new_iqr": new_summary.iqr,
        "ratio": None,
        "ci_low": None,
        "ci_high": None,
        "verdict": INCOMPARABLE,
    }
    enough = min(old_summary.n, new_summary.n) >= options.min_samples
    if not enough or not old_summary.median > 0:
        return row

    interval = ratio_of_medians_interval(
        old_samples,
        new_samples,
        confidence=options.confidence,
        resamples=options.resamples,
        seed=rng,
    )
    row.update(
        ratio=interval.ratio,
        ci_low=interval.low,
        ci_high=interval.high,
        verdict=judge(interval, options.threshold),
    )
    return row


def _result_frame(rows: list[dict[str, object]], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*columns, *STATISTIC_COLUMNS])
    # Group columns of the builds table keep its string dtype, others stay as grouped.
    string_columns = [column for column in columns if column in GROUP_COLUMNS]
    dtypes = {column: "string" for column in (*string_columns, "verdict")}
    dtypes.update({"old_n": "Int64", "new_n": "Int64"})
    for column in STATISTIC_COLUMNS:
        if column.endswith(("_median", "_iqr", "_low", "_high")) or column == "ratio":
            dtypes[column] = "Float64"
    return frame.astype(dtypes)
