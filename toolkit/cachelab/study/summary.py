"""Summary tables of a comparison: per-stage figures and strategy ratios of one step."""

from __future__ import annotations

import math

import pandas as pd

from cachelab.record import Recording
from cachelab.stats import compare_strategies, median
from cachelab.study.errors import StudyError

BASELINE_STRATEGY = "per-stage"

STAGE_COLUMNS = (
    "strategy",
    "stage_index",
    "stage_name",
    "action",
    "wall_s",
    "bytes_downloaded",
    "bytes_unpacked",
    "cache_hits",
    "cache_misses",
    "builds",
)
RATIO_COLUMNS = (
    "dockerfile_id",
    "scenario",
    "step",
    "baseline",
    "strategy",
    "baseline_n",
    "other_n",
    "baseline_median",
    "other_median",
    "ratio",
    "ci_low",
    "ci_high",
    "verdict",
)


def last_step(builds: pd.DataFrame) -> int:
    """Return the highest step of the builds table, or raise `StudyError` without one."""
    steps = builds["step"].dropna()
    if steps.empty:
        raise StudyError(
            "the builds table has no build with a scenario step",
            hint="Pass a recording made by cachelab compare or study.",
        )
    return int(steps.max())


def stage_table(recording: Recording, *, step: int | None = None) -> pd.DataFrame:
    """Return one row per strategy and stage of scenario step `step` (default: the last).

    Numbers are medians over the repeats of successful builds; `action` joins the
    distinct actions with "/" when repeats disagree, and `builds` counts the repeats.
    """
    builds = recording.builds
    chosen = last_step(builds) if step is None else step
    selected = builds[(builds["step"] == chosen) & (builds["outcome"] == "ok")]
    strategies = dict(zip(selected["build_id"], selected["strategy"]))
    stages = recording.stages[recording.stages["build_id"].isin(list(strategies))].copy()
    stages["strategy"] = stages["build_id"].map(strategies)

    rows = []
    for (strategy, stage_index), group in stages.groupby(["strategy", "stage_index"], sort=False):
        rows.append(
            {
                "strategy": strategy,
                "stage_index": int(stage_index),
                "stage_name": group["stage_name"].iloc[0],
                "action": "/".join(sorted(group["action"].dropna().unique())),
                "wall_s": median(group["wall_s"]),
                "bytes_downloaded": _median_count(group["bytes_downloaded"]),
                "bytes_unpacked": _median_count(group["bytes_unpacked"]),
                "cache_hits": _median_count(group["cache_hits"]),
                "cache_misses": _median_count(group["cache_misses"]),
                "builds": len(group),
            }
        )
    table = pd.DataFrame(rows, columns=list(STAGE_COLUMNS))
    order = {name: position for position, name in enumerate(dict.fromkeys(selected["strategy"]))}
    table = table.sort_values(
        ["strategy", "stage_index"], key=lambda column: column.map(order) if column.name == "strategy" else column
    )
    return table.astype(
        {
            "strategy": "string",
            "stage_name": "string",
            "action": "string",
            "wall_s": "Float64",
            "bytes_downloaded": "Int64",
            "bytes_unpacked": "Int64",
            "cache_hits": "Int64",
            "cache_misses": "Int64",
            "builds": "Int64",
        }
    ).reset_index(drop=True)


def strategy_ratios(
    recording: Recording,
    *,
    baseline: str = BASELINE_STRATEGY,
    step: int | None = None,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Return the wall-time ratio of each strategy over `baseline` at step `step`.

    The ratio is the median of the other strategy over the median of the baseline.
    With two or more repeats on each side, the row also has a bootstrap confidence
    interval from `cachelab.stats.compare_strategies`, and a verdict with
    `min_samples_for_verdict(confidence)` or more, 5 at 95% (the verdict is
    "inconclusive" below). With one repeat, the interval is
    NA and the verdict "incomparable". Returns no rows
    when `baseline` was not run.
    """
    builds = recording.builds
    chosen = last_step(builds) if step is None else step
    selected = builds[builds["step"] == chosen]
    strategies = list(dict.fromkeys(selected["strategy"].dropna()))
    frames = []
    if baseline in strategies:
        for other in strategies:
            if other == baseline:
                continue
            result = compare_strategies(
                selected, baseline, other, confidence=confidence, seed=seed, min_samples=2
            )
            result.insert(2, "step", chosen)
            result.insert(3, "baseline", baseline)
            result.insert(4, "strategy", other)
            frames.append(result)
    if not frames:
        return pd.DataFrame({column: [] for column in RATIO_COLUMNS})
    table = pd.concat(frames, ignore_index=True)
    # With one repeat, the ratio of the two single values is still worth showing.
    missing = table["ratio"].isna() & (table["baseline_median"] > 0)
    table.loc[missing, "ratio"] = table.loc[missing, "other_median"] / table.loc[missing, "baseline_median"]
    return table[list(RATIO_COLUMNS)]


def _median_count(values: pd.Series) -> int | None:
    value = median(values)
    return None if math.isnan(value) else round(value)
