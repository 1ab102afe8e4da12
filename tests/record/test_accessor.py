"""The df.cachelab accessor: validation on access and its helpers."""

from __future__ import annotations

import pandas as pd
import pytest

from cachelab.record import RecordError, Recording, SyntheticStage, concat, synthetic_build


def strategies_recording() -> Recording:
    recordings = []
    for repeat, scale in enumerate((1.0, 1.5, 2.0)):
        for strategy, factor in (("no-cache", 1.0), ("lookahead", 0.5)):
            events = synthetic_build(
                f"{strategy}-{repeat}",
                strategy=strategy,
                repeat=repeat,
                scale=scale * factor,
            )
            recordings.append(Recording.from_events(events, environment={}))
    failed = synthetic_build("failed", strategy="lookahead", outcome="error", scale=100.0)
    recordings.append(Recording.from_events(failed, environment={}))
    return concat(recordings)


@pytest.mark.parametrize("table", ["builds", "stages", "instructions", "spans"])
def test_accessor_identifies_table(table: str) -> None:
    frame = getattr(strategies_recording(), table)

    assert frame.cachelab.table == table


def test_accessor_names_missing_columns() -> None:
    stages = strategies_recording().stages.drop(columns=["wall_s", "key_risks"])

    with pytest.raises(AttributeError, match="'stages' table but lacks columns: key_risks, wall_s"):
        _ = stages.cachelab


def test_accessor_rejects_unrelated_frame() -> None:
    with pytest.raises(AttributeError, match="needs a cachelab record table"):
        _ = pd.DataFrame({"x": [1]}).cachelab


def test_validate_lists_wrong_dtypes() -> None:
    builds = strategies_recording().builds
    builds["wall_s"] = builds["wall_s"].astype(float)

    with pytest.raises(RecordError, match="wall_s is float64, expected Float64"):
        builds.cachelab.validate()


def test_summary_per_strategy() -> None:
    summary = strategies_recording().builds.cachelab.summary().set_index("strategy")
    walls = strategies_recording().builds.query("outcome == 'ok'").groupby("strategy")["wall_s"]

    assert summary.loc["lookahead", "builds"] == 4
    assert summary.loc["lookahead", "ok"] == 3
    assert summary.loc["no-cache", "median"] == walls.median()["no-cache"]
    assert summary.loc["lookahead", "max"] == walls.max()["lookahead"]
    expected_iqr = walls.quantile(0.75)["no-cache"] - walls.quantile(0.25)["no-cache"]
    assert summary.loc["no-cache", "iqr"] == pytest.approx(expected_iqr)


def test_wall_ratio_between_strategies() -> None:
    ratio = strategies_recording().builds.cachelab.wall_ratio("no-cache", "lookahead")

    assert list(ratio.columns) == [
        "dockerfile_id",
        "scenario",
        "baseline_median",
        "other_median",
        "ratio",
    ]
    assert len(ratio) == 1
    assert ratio["ratio"].iloc[0] == pytest.approx(0.5)


def test_wall_ratio_unknown_strategy() -> None:
    with pytest.raises(RecordError, match="no successful build of strategy 'per-stage'"):
        strategies_recording().builds.cachelab.wall_ratio("per-stage", "lookahead")


def test_helper_on_wrong_table() -> None:
    with pytest.raises(RecordError, match="summary needs the builds table, not the stages"):
        strategies_recording().stages.cachelab.summary()


def test_phase_seconds_long_form() -> None:
    recording = Recording.from_events(
        synthetic_build(stages=(SyntheticStage(instructions=1),)), environment={}
    )
    long = recording.stages.cachelab.phase_seconds()
    execute = long[long["phase"] == "execute"]

    assert len(long) == 9
    assert execute["seconds"].iloc[0] == 1.0
    assert set(long["phase"]) >= {"download", "push", "save"}
