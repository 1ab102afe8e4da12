"""Compare groups of repeated build timings: two result sets, or two strategies.

`compare_builds` pairs the groups (dockerfile_id, scenario, step, strategy) of an
old and a new result set, as asv's compare pairs benchmarks of two commits.
`compare_strategies` pairs two strategies of one result set per (dockerfile_id,
scenario). Both report medians, IQR, the ratio of medians with its bootstrap
interval and a verdict. Where the old median is 0 or less no ratio exists, so the
interval and verdict there are of the difference of medians (`statistic` column).

Each step of a scenario is a group of its own, because step 0 is a cold build and
the later steps rebuild on its cache. Their times come from different
distributions, so a pooled group would get a median and an interval of neither.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cachelab.record import Recording
from cachelab.record.cache_failures import describe_failures
from cachelab.stats.bootstrap import difference_of_medians_interval, ratio_of_medians_interval
from cachelab.stats.errors import StatsError
from cachelab.stats.pooling import warn_on_pooled_dockerfiles
from cachelab.stats.summary import as_samples, summarize
from cachelab.stats.verdict import INCOMPARABLE, check_threshold, judge, judge_difference

logger = logging.getLogger(__name__)

GROUP_COLUMNS = ("dockerfile_id", "scenario", "step", "strategy")
STRATEGY_GROUP_COLUMNS = ("dockerfile_id", "scenario")
# Values of the `statistic` column: what `ci_low` and `ci_high` are an interval of.
RATIO = "ratio"
DIFFERENCE = "difference"
# Numeric builds columns that identify a build or its machine rather than measure it.
NON_METRIC_COLUMNS = ("step", "repeat", "cpu_count")
STATISTIC_COLUMNS = (
    "old_n",
    "new_n",
    "old_median",
    "new_median",
    "old_iqr",
    "new_iqr",
    "ratio",
    "difference",
    "statistic",
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
    step: int | None = None,
    threshold: float = 1.1,
    confidence: float = 0.95,
    resamples: int = 10_000,
    min_samples: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """Return one row per (dockerfile_id, scenario, step, strategy) with ratio and verdict.

    The ratio is the median of `metric` in `new` over its median in `old`, so for a
    time a ratio above 1 means `new` is slower. Only builds with `outcome == "ok"` count. A
    group present on one side only, or with fewer than `min_samples` values on
    either side, is `incomparable` and has NA ratio and interval. A group with
    fewer than `min_samples_for_verdict(confidence)` values on a side (5 at 0.95)
    has its interval but the verdict `inconclusive`, because so few samples
    cannot support a verdict at that confidence (see `cachelab.stats.verdict`).
    A logged warning names each group left without a value, and why.

    `difference` is the new median minus the old one, in the metric's unit.
    `statistic` names what `ci_low` and `ci_high` bound: "ratio" where the old
    median is above 0, else "difference", because no ratio to 0 exists. A
    difference is `worse` or `better` when its interval excludes 0, with no
    threshold, so 0 -> 0 is `same` and 0 -> 5 is `worse`. Groups are
    processed in sorted order with one generator seeded by `seed`, so results are
    reproducible.

    Every step of a scenario gets its own row, so the cold build (step 0) and the
    warm rebuilds (step 1 and later) are never pooled. Builds recorded without a
    step share one group, and a logged warning names a group that mixes builds
    with and without cache hits, i.e. likely cold and warm builds. `step`, when
    given, keeps only the builds of that step. A build with `cache_failures`
    above 0 is compared too, and a logged warning names it. Raises `StatsError` when
    `metric` is not a numeric column of both tables.
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
    _check_columns("old", old, (*GROUP_COLUMNS, "outcome"))
    _check_columns("new", new, (*GROUP_COLUMNS, "outcome"))
    _check_metric("old", old, metric)
    _check_metric("new", new, metric)
    if step is not None:
        old = _select_step("old", old, step)
        new = _select_step("new", new, step)

    _warn_on_cache_failures("old", old)
    _warn_on_cache_failures("new", new)
    _warn_on_pooled_steps("old", old)
    _warn_on_pooled_steps("new", new)
    old_groups = _samples_by_group(old, GROUP_COLUMNS, metric)
    new_groups = _samples_by_group(new, GROUP_COLUMNS, metric)
    compared = old_groups.keys() | new_groups.keys()
    _warn_on_groups_without_values("old", old, GROUP_COLUMNS, metric, compared)
    _warn_on_groups_without_values("new", new, GROUP_COLUMNS, metric, compared)
    return _compare(old_groups, new_groups, GROUP_COLUMNS, options)


def compare_recordings(old: Recording, new: Recording, **options: object) -> pd.DataFrame:
    """Return `compare_builds` of the builds tables of two recordings.

    A logged warning also names each group whose builds have no dockerfile_id
    or differ in stage count or commands (see `cachelab.stats.pooling`).
    """
    result = compare_builds(old.builds, new.builds, **options)  # type: ignore[arg-type]
    step = options.get("step")
    warn_on_pooled_dockerfiles("old", old, GROUP_COLUMNS, step=step)  # type: ignore[arg-type]
    warn_on_pooled_dockerfiles("new", new, GROUP_COLUMNS, step=step)  # type: ignore[arg-type]
    return result


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
    As in `compare_builds`, a logged warning names the builds with cache failures.
    Raises `StatsError` when `builds` contains several steps of a scenario and `by`
    lacks `step`, because their builds would be pooled. Select one step first.
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
    _check_columns("", builds, (*columns, "strategy", "outcome"))
    _check_metric("", builds, metric)
    for strategy in (baseline, other):
        if not (builds["strategy"] == strategy).any():
            raise StatsError(
                f"builds table has no build of strategy {strategy!r}",
                hint="Pass strategy names that occur in the builds table.",
            )
    _check_one_step(builds, columns)

    baseline_builds = builds[builds["strategy"] == baseline]
    other_builds = builds[builds["strategy"] == other]
    _warn_on_cache_failures(f"strategy {baseline}", baseline_builds)
    _warn_on_cache_failures(f"strategy {other}", other_builds)
    baseline_groups = _samples_by_group(baseline_builds, columns, metric)
    other_groups = _samples_by_group(other_builds, columns, metric)
    compared = baseline_groups.keys() | other_groups.keys()
    _warn_on_groups_without_values(f"strategy {baseline}", baseline_builds, columns, metric, compared)
    _warn_on_groups_without_values(f"strategy {other}", other_builds, columns, metric, compared)
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


def _check_metric(name: str, builds: pd.DataFrame, metric: str) -> None:
    if metric in builds.columns and _is_metric(builds[metric]):
        return
    table = f"{name} builds table" if name else "builds table"
    if metric in builds.columns:
        problem = f"column {metric!r} of the {table} is not numeric (dtype {builds[metric].dtype})"
    else:
        problem = f"the {table} has no column {metric!r}"
    metrics = [column for column in builds.columns if _is_metric(builds[column])]
    raise StatsError(
        f"invalid metric {metric!r}: {problem}",
        hint=f"Compare one of the numeric columns: {', '.join(metrics) or 'none found'}.",
    )


def _is_metric(column: pd.Series) -> bool:
    dtype = column.dtype
    if column.name in NON_METRIC_COLUMNS or pd.api.types.is_bool_dtype(dtype):
        return False
    return pd.api.types.is_numeric_dtype(dtype)


def _select_step(name: str, builds: pd.DataFrame, step: int) -> pd.DataFrame:
    selected = builds[builds["step"].eq(step).fillna(False).astype(bool)]
    if selected.empty:
        steps = sorted(int(value) for value in builds["step"].dropna().unique())
        if steps:
            hint = f"Pass a step it has: {', '.join(map(str, steps))}."
        else:
            hint = "Compare without a step, because these builds record none, as ingested builds do."
        raise StatsError(f"{name} builds table has no build of step {step}", hint=hint)
    return selected


def _check_one_step(builds: pd.DataFrame, columns: Sequence[str]) -> None:
    if "step" in columns or "step" not in builds.columns:
        return
    steps = sorted(int(value) for value in builds["step"].dropna().unique())
    if len(steps) > 1:
        raise StatsError(
            f"builds table has steps {', '.join(map(str, steps))}, which one group would pool",
            hint="Select one step first, e.g. builds[builds['step'] == 1], or add 'step' to by.",
        )


def _warn_on_cache_failures(name: str, builds: pd.DataFrame) -> None:
    """Log a warning naming the compared builds whose cache operations failed.

    Such a build went on without the cache, as kaniko does, and kept outcome
    "ok". Its time is still compared, so without the warning a verdict would
    hide that the build did not measure a working cache.
    """
    line = describe_failures(builds[builds["outcome"] == "ok"])
    if line is not None:
        logger.warning(
            "%s builds: %s. Their times are compared although they went on without those cache operations",
            name, line,
        )


def _warn_on_pooled_steps(name: str, builds: pd.DataFrame) -> None:
    """Log a warning per group without a step that contains builds with and without cache hits.

    Such a group most likely pools cold builds and warm rebuilds, whose times
    come from different distributions, so its median describes neither.
    """
    if "cache_hits" not in builds.columns:
        return
    unlabelled = builds[(builds["outcome"] == "ok") & builds["step"].isna() & builds["cache_hits"].notna()]
    if unlabelled.empty:
        return
    columns = ["dockerfile_id", "scenario", "strategy"]
    for key, frame in unlabelled.groupby(columns, dropna=False, sort=True):
        without_hits = int((frame["cache_hits"] == 0).sum())
        if 0 < without_hits < len(frame):
            group = ", ".join("-" if pd.isna(part) else str(part) for part in key)
            logger.warning(
                "%s builds of group (%s) have no step, and %d of %d have no cache hits, so cold builds "
                "and warm rebuilds are likely pooled. Record them with `cachelab build --scenario NAME "
                "--step N`, or ingest them with `cachelab ingest ENGINE FILE... --scenario NAME --step N` "
                "(0 for the cold build)",
                name, group, without_hits, len(frame),
            )


def _warn_on_groups_without_values(
    name: str, builds: pd.DataFrame, columns: Sequence[str], metric: str, compared: set[tuple[object, ...]]
) -> None:
    """Log a warning per group of `builds` that has no `metric` value to compare, and why.

    Only successful builds with a value count, so such a group is either an
    incomparable row (`compared` contains its key) or missing from the table.
    """
    for key, frame in builds.groupby(list(columns), dropna=False, sort=True):
        ok = frame["outcome"] == "ok"
        if frame.loc[ok, metric].notna().any():
            continue
        hint = ""
        if ok.any():
            reason = f"{metric} is NA in every build with outcome ok ({int(ok.sum())} of {len(frame)})"
            if metric == "wall_s":
                hint = (
                    ". An ingested kaniko log with whole-second stamps has no wall_s when its first "
                    "and last lines fall within one second"
                )
        else:
            outcomes = frame["outcome"].astype("string").fillna("NA").value_counts(sort=False)
            counts = ", ".join(f"{outcome}: {count}" for outcome, count in sorted(outcomes.items()))
            reason = f"none of its builds has outcome ok ({counts})"
        group_key = _group_key(key)
        effect = "its verdict is incomparable" if group_key in compared else "it is left out of the table"
        group = ", ".join("-" if part is None else str(part) for part in group_key)
        logger.warning(
            "%s builds of group (%s) have no %s to compare: %s, so %s%s",
            name, group, metric, reason, effect, hint,
        )


def _samples_by_group(builds: pd.DataFrame, columns: Sequence[str], metric: str) -> Samples:
    ok = builds[builds["outcome"] == "ok"]
    groups = {}
    for key, frame in ok.groupby(list(columns), dropna=False, sort=False):
        groups[_group_key(key)] = as_samples(frame[metric])
    return groups


def _group_key(key: object) -> tuple[object, ...]:
    # pandas returns a scalar key when grouping by one column, and NaN or NA for a missing part.
    parts = key if isinstance(key, tuple) else (key,)
    return tuple(None if pd.isna(part) else part for part in parts)


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


def _sort_key(key: tuple[object, ...]) -> tuple[tuple[int, object], ...]:
    # NA sorts first, numbers by value (step 10 after step 2), other values as text.
    parts: list[tuple[int, object]] = []
    for part in key:
        if part is None:
            parts.append((0, ""))
        elif isinstance(part, numbers.Real) and not isinstance(part, bool):
            parts.append((1, part))
        else:
            parts.append((2, str(part)))
    return tuple(parts)


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
        "difference": None,
        "statistic": None,
        "ci_low": None,
        "ci_high": None,
        "verdict": INCOMPARABLE,
    }
    if old_summary.n and new_summary.n:
        row["difference"] = new_summary.median - old_summary.median
    if min(old_summary.n, new_summary.n) < options.min_samples:
        return row

    if old_summary.median > 0:
        ratio = ratio_of_medians_interval(
            old_samples, new_samples, confidence=options.confidence, resamples=options.resamples, seed=rng
        )
        row.update(
            ratio=ratio.ratio,
            statistic=RATIO,
            ci_low=ratio.low,
            ci_high=ratio.high,
            verdict=judge(ratio, options.threshold),
        )
    else:
        difference = difference_of_medians_interval(
            old_samples, new_samples, confidence=options.confidence, resamples=options.resamples, seed=rng
        )
        row.update(
            statistic=DIFFERENCE,
            ci_low=difference.low,
            ci_high=difference.high,
            verdict=judge_difference(difference),
        )
    return row


def _result_frame(rows: list[dict[str, object]], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*columns, *STATISTIC_COLUMNS])
    # Group columns of the builds table keep its dtype, others stay as grouped.
    string_columns = [column for column in columns if column in GROUP_COLUMNS and column != "step"]
    dtypes = {column: "string" for column in (*string_columns, "statistic", "verdict")}
    dtypes.update({"old_n": "Int64", "new_n": "Int64"})
    if "step" in columns:
        dtypes["step"] = "Int64"
    for column in STATISTIC_COLUMNS:
        if column.endswith(("_median", "_iqr", "_low", "_high")) or column in ("ratio", "difference"):
            dtypes[column] = "Float64"
    return frame.astype(dtypes)
