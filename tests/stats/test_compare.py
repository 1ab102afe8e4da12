"""Comparison of two result sets by (dockerfile_id, scenario, step, strategy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cachelab.record import Recording, concat, synthetic_build
from cachelab.stats import StatsError, compare_builds, compare_recordings, compare_strategies


def builds(
    prefix: str,
    centers: dict[str, float],
    *,
    count: int = 8,
    seed: int = 0,
    step_scales: dict[int, float] | None = None,
) -> Recording:
    """Return `count` builds per strategy and step with wall times spread around its center.

    `step_scales` maps each scenario step to a factor on the center (default: step 0 only).
    """
    rng = np.random.default_rng(seed)
    recordings = []
    for step, factor in (step_scales or {0: 1.0}).items():
        for strategy, center in centers.items():
            for repeat in range(count):
                scale = center * factor * rng.lognormal(0.0, 0.02)
                events = synthetic_build(
                    f"{prefix}-{strategy}-{step}-{repeat}",
                    strategy=strategy,
                    step=step,
                    repeat=repeat,
                    scale=scale,
                )
                recordings.append(Recording.from_events(events, environment={"host": "h"}))
    return concat(recordings)


def test_verdicts_per_strategy() -> None:
    old = builds("old", {"no-cache": 1.0, "lookahead": 1.0, "per-stage": 1.0})
    new = builds("new", {"no-cache": 1.0, "lookahead": 0.6, "per-stage": 1.5}, seed=1)
    result = compare_recordings(old, new).set_index("strategy")

    assert result.loc["lookahead", "verdict"] == "better"
    assert result.loc["per-stage", "verdict"] == "worse"
    assert result.loc["no-cache", "verdict"] == "same"
    assert result.loc["per-stage", "old_n"] == 8
    assert result.loc["per-stage", "ci_low"] > 1.0


def test_verdict_flips_with_threshold() -> None:
    old = builds("old", {"lookahead": 1.0})
    new = builds("new", {"lookahead": 1.2}, seed=1)

    strict = compare_recordings(old, new, threshold=1.1)
    loose = compare_recordings(old, new, threshold=1.5)

    assert strict["verdict"].iloc[0] == "worse"
    assert loose["verdict"].iloc[0] == "same"
    assert strict["ratio"].iloc[0] == loose["ratio"].iloc[0]


def test_ratio_is_ratio_of_medians() -> None:
    old = builds("old", {"lookahead": 1.0})
    new = builds("new", {"lookahead": 2.0}, seed=1)
    row = compare_recordings(old, new).iloc[0]

    expected = new.builds["wall_s"].median() / old.builds["wall_s"].median()
    assert row["ratio"] == pytest.approx(expected)
    assert row["old_median"] == old.builds["wall_s"].median()
    assert row["ci_low"] <= row["ratio"] <= row["ci_high"]


def test_group_on_one_side_is_incomparable() -> None:
    old = builds("old", {"lookahead": 1.0})
    new = builds("new", {"lookahead": 1.0, "no-cache": 1.0}, seed=1)
    result = compare_recordings(old, new).set_index("strategy")

    assert result.loc["no-cache", "verdict"] == "incomparable"
    assert result.loc["no-cache", "old_n"] == 0
    assert pd.isna(result.loc["no-cache", "ratio"])
    assert pd.isna(result.loc["no-cache", "old_median"])


def test_failed_builds_are_left_out() -> None:
    old = builds("old", {"lookahead": 1.0}, count=5)
    failed = Recording.from_events(
        synthetic_build("slow-failure", outcome="error", scale=50.0), environment={}
    )
    new = concat([builds("new", {"lookahead": 1.0}, count=5, seed=1), failed])
    row = compare_recordings(old, new).iloc[0]

    assert row["new_n"] == 5
    assert row["verdict"] == "same"


def test_too_few_samples_is_incomparable() -> None:
    old = builds("old", {"lookahead": 1.0}, count=1)
    new = builds("new", {"lookahead": 3.0}, count=1)

    assert compare_recordings(old, new)["verdict"].iloc[0] == "incomparable"
    # One sample per side gives an interval, but too few samples for a verdict.
    assert compare_recordings(old, new, min_samples=1)["verdict"].iloc[0] == "inconclusive"


def test_results_are_reproducible() -> None:
    old = builds("old", {"lookahead": 1.0, "no-cache": 1.0})
    new = builds("new", {"lookahead": 1.1, "no-cache": 0.9}, seed=1)

    pd.testing.assert_frame_equal(compare_recordings(old, new), compare_recordings(old, new))


def test_result_dtypes() -> None:
    result = compare_recordings(builds("o", {"lookahead": 1.0}), builds("n", {"lookahead": 1.0}))

    assert result["verdict"].dtype == "string"
    assert result["old_n"].dtype == "Int64"
    assert result["ratio"].dtype == "Float64"


def test_missing_columns_raise() -> None:
    old = builds("old", {"lookahead": 1.0}).builds.drop(columns=["scenario"])

    with pytest.raises(StatsError, match="old builds table lacks columns: scenario"):
        compare_builds(old, old)


def test_steps_compared_separately() -> None:
    # A cold build 20 times slower than its warm rebuild, as a cold lookahead build is.
    steps = {0: 20.0, 1: 1.0}
    old = builds("old", {"lookahead": 1.0}, count=5, step_scales=steps)
    new = builds("new", {"lookahead": 1.0}, count=5, seed=1, step_scales=steps)
    table = compare_recordings(old, new)
    result = table.set_index("step")

    assert table["step"].dtype == "Int64"
    assert list(result.index) == [0, 1]
    assert result.loc[1, "old_n"] == 5
    assert result.loc[1, "new_n"] == 5
    assert result.loc[0, "old_median"] > 10 * result.loc[1, "old_median"]
    assert result.loc[1, "ci_low"] > 0.5
    assert result.loc[1, "ci_high"] < 2.0
    assert set(result["verdict"]) == {"same"}


def test_step_option_selects_one_step() -> None:
    steps = {0: 20.0, 1: 1.0}
    old = builds("old", {"lookahead": 1.0}, count=5, step_scales=steps)
    new = builds("new", {"lookahead": 1.5}, count=5, seed=1, step_scales=steps)
    result = compare_recordings(old, new, step=1)

    assert result["step"].tolist() == [1]
    assert result["old_n"].tolist() == [5]
    assert result["verdict"].tolist() == ["worse"]


def test_step_absent_raises() -> None:
    old = builds("old", {"lookahead": 1.0}, count=2)

    with pytest.raises(StatsError, match="old builds table has no build of step 1") as raised:
        compare_builds(old.builds, old.builds, step=1)
    assert raised.value.hint == "Pass a step it has: 0."


def test_step_of_ingested_builds_raises() -> None:
    ingested = builds("old", {"lookahead": 1.0}, count=2).builds
    ingested["step"] = pd.array([None] * len(ingested), dtype="Int64")

    with pytest.raises(StatsError, match="has no build of step 0") as raised:
        compare_builds(ingested, ingested, step=0)
    assert raised.value.hint == "Compare without a step, because these builds record none, as ingested builds do."
    assert compare_builds(ingested, ingested)["step"].isna().all()


def test_steps_sorted_as_numbers() -> None:
    steps = {10: 1.0, 2: 1.0}
    old = builds("old", {"lookahead": 1.0}, count=2, step_scales=steps)

    assert compare_recordings(old, old)["step"].tolist() == [2, 10]


def test_non_numeric_metric_lists_numeric_columns() -> None:
    old = builds("old", {"lookahead": 1.0}, count=2)

    with pytest.raises(StatsError, match="invalid metric 'outcome'.*not numeric") as raised:
        compare_recordings(old, old, metric="outcome")
    hint = raised.value.hint or ""
    assert "wall_s" in hint
    assert "cache_misses" in hint
    assert "outcome" not in hint
    assert "step" not in hint


def test_unknown_metric_lists_numeric_columns() -> None:
    old = builds("old", {"lookahead": 1.0}, count=2)

    with pytest.raises(StatsError, match="builds table has no column 'time'") as raised:
        compare_recordings(old, old, metric="time")
    assert "wall_s" in (raised.value.hint or "")


def test_strategies_reject_pooled_steps() -> None:
    recording = builds("a", {"no-cache": 1.0, "lookahead": 0.5}, count=2, step_scales={0: 1.0, 1: 0.1})

    with pytest.raises(StatsError, match="steps 0, 1, which one group would pool"):
        compare_strategies(recording.builds, "no-cache", "lookahead")
    by_step = compare_strategies(
        recording.builds, "no-cache", "lookahead", by=["dockerfile_id", "scenario", "step"]
    )
    assert by_step["step"].tolist() == [0, 1]


def test_strategies_compared_per_dockerfile() -> None:
    first = builds("a", {"no-cache": 1.0, "lookahead": 0.5})
    second = builds("b", {"no-cache": 1.0, "lookahead": 1.0}, seed=1)
    second.builds["dockerfile_id"] = "other/Dockerfile"
    recording = concat([first, second])
    result = compare_strategies(recording.builds, "no-cache", "lookahead").set_index(
        "dockerfile_id"
    )

    assert list(result.columns[:3]) == ["scenario", "baseline_n", "other_n"]
    assert result.loc["app/Dockerfile", "verdict"] == "better"
    assert result.loc["app/Dockerfile", "ratio"] == pytest.approx(0.5, rel=0.05)
    assert result.loc["other/Dockerfile", "verdict"] == "same"
    assert result.loc["app/Dockerfile", "baseline_n"] == 8


def test_strategies_grouped_by_other_columns() -> None:
    recording = builds("a", {"no-cache": 1.0, "lookahead": 0.5})
    result = compare_strategies(recording.builds, "no-cache", "lookahead", by=["repeat"])

    assert len(result) == 8
    assert result["repeat"].dtype != "string"
    assert set(result["verdict"]) == {"incomparable"}


def test_strategies_unknown_name() -> None:
    recording = builds("a", {"no-cache": 1.0})

    with pytest.raises(StatsError, match="no build of strategy 'lookahead'"):
        compare_strategies(recording.builds, "no-cache", "lookahead")
