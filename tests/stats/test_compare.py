"""Comparison of two result sets by (dockerfile_id, scenario, strategy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cachelab.record import Recording, concat, synthetic_build
from cachelab.stats import StatsError, compare_builds, compare_recordings, compare_strategies


def builds(prefix: str, centers: dict[str, float], *, count: int = 8, seed: int = 0) -> Recording:
    """Return `count` builds per strategy with wall times spread around its center."""
    rng = np.random.default_rng(seed)
    recordings = []
    for strategy, center in centers.items():
        for repeat in range(count):
            scale = center * rng.lognormal(0.0, 0.02)
            events = synthetic_build(
                f"{prefix}-{strategy}-{repeat}", strategy=strategy, repeat=repeat, scale=scale
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
    old = builds("old", {"lookahead": 1.0}, count=3)
    failed = Recording.from_events(
        synthetic_build("slow-failure", outcome="error", scale=50.0), environment={}
    )
    new = concat([builds("new", {"lookahead": 1.0}, count=3, seed=1), failed])
    row = compare_recordings(old, new).iloc[0]

    assert row["new_n"] == 3
    assert row["verdict"] == "same"


def test_too_few_samples_is_incomparable() -> None:
    old = builds("old", {"lookahead": 1.0}, count=1)
    new = builds("new", {"lookahead": 3.0}, count=1)

    assert compare_recordings(old, new)["verdict"].iloc[0] == "incomparable"
    assert compare_recordings(old, new, min_samples=1)["verdict"].iloc[0] == "worse"


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
