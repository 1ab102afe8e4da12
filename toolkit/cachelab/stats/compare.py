"""Compare two sets of build results by (dockerfile_id, scenario, strategy)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from cachelab.record import Recording
from cachelab.stats.bootstrap import ratio_of_medians_interval
from cachelab.stats.errors import StatsError
from cachelab.stats.summary import as_samples, summarize
from cachelab.stats.verdict import INCOMPARABLE, check_threshold, judge

logger = logging.getLogger(__name__)

GROUP_COLUMNS = ("dockerfile_id", "scenario", "strategy")
RESULT_COLUMNS = (
    *GROUP_COLUMNS,
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
    """Return one row per group with medians, ratio, interval and verdict.

    Only builds with `outcome == "ok"` count. A group present on one side only, or
    with fewer than `min_samples` values of `metric` on either side, is
    `incomparable` and has NA ratio and interval. Groups are processed in sorted
    order with one generator seeded by `seed`, so results are reproducible.
    """
    check_threshold(threshold)
    for name, builds in (("old", old), ("new", new)):
        missing = [c for c in (*GROUP_COLUMNS, metric, "outcome") if c not in builds.columns]
        if missing:
            raise StatsError(
                f"{name} builds table lacks columns: {', '.join(missing)}",
                hint="Pass the builds table of a Recording.",
            )

    old_groups = _samples_by_group(old, metric)
    new_groups = _samples_by_group(new, metric)
    rng = np.random.default_rng(seed)
    rows = []
    for key in sorted(old_groups.keys() | new_groups.keys(), key=_sort_key):
        old_samples = old_groups.get(key, np.empty(0))
        new_samples = new_groups.get(key, np.empty(0))
        rows.append(
            _compare_group(
                key, old_samples, new_samples, threshold, confidence, resamples, min_samples, rng
            )
        )
    return _result_frame(rows)


def compare_recordings(old: Recording, new: Recording, **options: object) -> pd.DataFrame:
    """Return `compare_builds` of the builds tables of two recordings."""
    return compare_builds(old.builds, new.builds, **options)  # type: ignore[arg-type]


def _samples_by_group(builds: pd.DataFrame, metric: str) -> dict[tuple[object, ...], np.ndarray]:
    ok = builds[builds["outcome"] == "ok"]
    groups = {}
    for key, frame in ok.groupby(list(GROUP_COLUMNS), dropna=False, sort=False):
        groups[tuple(None if pd.isna(k) else k for k in key)] = as_samples(frame[metric])
    return groups


def _sort_key(key: tuple[object, ...]) -> tuple[str, ...]:
    return tuple("" if part is None else str(part) for part in key)


def _compare_group(
    key: tuple[object, ...],
    old_samples: np.ndarray,
    new_samples: np.ndarray,
    threshold: float,
    confidence: float,
    resamples: int,
    min_samples: int,
    rng: np.random.Generator,
) -> dict[str, object]:
    old_summary = summarize(old_samples)
    new_summary = summarize(new_samples)
    row: dict[str, object] = {
        **dict(zip(GROUP_COLUMNS, key)),
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
    if min(old_summary.n, new_summary.n) < min_samples or not old_summary.median > 0:
        return row

    interval = ratio_of_medians_interval(
        old_samples, new_samples, confidence=confidence, resamples=resamples, seed=rng
    )
    row.update(
        ratio=interval.ratio,
        ci_low=interval.low,
        ci_high=interval.high,
        verdict=judge(interval, threshold),
    )
    return row


def _result_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    dtypes = {column: "string" for column in (*GROUP_COLUMNS, "verdict")}
    dtypes.update({"old_n": "Int64", "new_n": "Int64"})
    dtypes.update(
        {c: "Float64" for c in RESULT_COLUMNS if c.endswith(("_median", "_iqr", "_low", "_high"))}
    )
    dtypes["ratio"] = "Float64"
    return frame.astype(dtypes)
