"""Summary tables and reports on synthetic recordings, whose numbers are exact."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from cachelab.record import Recording, SyntheticStage, synthetic_build
from cachelab.study.compare import write_outputs
from cachelab.study.errors import StudyError
from cachelab.study.summary import last_step, stage_table, strategy_ratios

PER_STAGE_WARM = (SyntheticStage(name="base", hits=2), SyntheticStage(hits=2))
LOOKAHEAD_WARM = (SyntheticStage(name="base", action="eliminated"), SyntheticStage(hits=2))
COLD = (SyntheticStage(name="base"), SyntheticStage())


def _recording(repeats: int) -> Recording:
    events = []
    for repeat in range(repeats):
        for strategy, warm, scale in (
            ("per-stage", PER_STAGE_WARM, 1.0 + repeat / 8),
            ("lookahead", LOOKAHEAD_WARM, 0.5 + repeat / 8),
        ):
            for step, stages in enumerate((COLD, warm)):
                events += synthetic_build(
                    f"{strategy}-{repeat}-{step}",
                    stages=stages,
                    strategy=strategy,
                    step=step,
                    repeat=repeat,
                    scale=scale,
                )
    return Recording.from_events(events)


def test_last_step_is_highest() -> None:
    assert last_step(_recording(1).builds) == 1


def test_last_step_needs_steps() -> None:
    builds = pd.DataFrame({"step": pd.Series([pd.NA], dtype="Int64")})
    with pytest.raises(StudyError):
        last_step(builds)


def test_stage_table_of_last_step() -> None:
    table = stage_table(_recording(1))
    assert list(table["strategy"]) == ["per-stage", "per-stage", "lookahead", "lookahead"]
    rows = table.set_index(["strategy", "stage_index"])
    assert rows.loc[("lookahead", 0), "action"] == "eliminated"
    assert rows.loc[("per-stage", 0), "action"] == "built"
    assert rows.loc[("per-stage", 1), "cache_hits"] == 2
    assert rows.loc[("per-stage", 0), "stage_name"] == "base"
    assert (table["builds"] == 1).all()


def test_stage_table_medians_over_repeats() -> None:
    recording = _recording(3)
    table = stage_table(recording).set_index(["strategy", "stage_index"])
    stages = recording.stages.merge(recording.builds[["build_id", "strategy", "step"]], on="build_id")
    warm = stages[(stages["strategy"] == "per-stage") & (stages["step"] == 1) & (stages["stage_index"] == 1)]
    assert table.loc[("per-stage", 1), "wall_s"] == warm["wall_s"].median()
    assert table.loc[("per-stage", 1), "builds"] == 3


def test_stage_table_of_first_step() -> None:
    table = stage_table(_recording(1), step=0).set_index(["strategy", "stage_index"])
    assert table.loc[("lookahead", 0), "action"] == "built"
    assert table.loc[("lookahead", 0), "cache_misses"] == 2


def test_ratio_without_repeats_has_no_interval() -> None:
    recording = _recording(1)
    ratios = strategy_ratios(recording)
    assert len(ratios) == 1
    row = ratios.iloc[0]
    builds = recording.builds.set_index("build_id")
    expected = builds.loc["lookahead-0-1", "wall_s"] / builds.loc["per-stage-0-1", "wall_s"]
    assert row["strategy"] == "lookahead"
    assert row["baseline"] == "per-stage"
    assert row["ratio"] == pytest.approx(expected)
    assert pd.isna(row["ci_low"])
    assert row["verdict"] == "incomparable"


def test_ratio_with_repeats_has_interval() -> None:
    row = strategy_ratios(_recording(4)).iloc[0]
    assert row["other_n"] == 4
    assert row["ci_low"] <= row["ratio"] <= row["ci_high"]
    assert row["ratio"] < 1


def test_ratio_empty_without_baseline() -> None:
    recording = _recording(1)
    only = recording.builds[recording.builds["strategy"] == "lookahead"]
    trimmed = Recording(only, recording.stages, recording.instructions, recording.spans)
    assert strategy_ratios(trimmed).empty


def test_write_outputs_saves_tables_pngs_and_report(tmp_path: Path) -> None:
    report = io.StringIO()
    written = write_outputs(_recording(2), tmp_path / "out", report=report)
    names = sorted(path.name for path in written)
    assert names == [
        "builds.parquet",
        "instructions.parquet",
        "spans.parquet",
        "stages.parquet",
        "timeline-lookahead.png",
        "timeline-per-stage.png",
    ]
    for path in written:
        assert path.stat().st_size > 0
    assert Recording.load(tmp_path / "out").builds.shape[0] == 8
    text = report.getvalue()
    assert "eliminated" in text
    assert "relative to per-stage" in text
    assert str(tmp_path / "out" / "timeline-lookahead.png") in text
