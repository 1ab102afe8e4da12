"""Time columns: 0 when the source times every phase and a row ran none, NA only when unmeasured."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cachelab.events import (
    BuildFinished,
    SpanRecorded,
)
from cachelab.record import Recording, schema, storage
from tests.record import lookahead_events as lookahead

PHASE_COLUMNS = list(schema.PHASE_COLUMNS)


def _span(span_id: str, phase: str, stage_index: int | None, start_s: float, end_s: float,
          instruction_index: int | None = None) -> SpanRecorded:
    return SpanRecorded(
        build_id="b1", span_id=span_id, parent_id=None, phase=phase, start_s=start_s, end_s=end_s,
        stage_index=stage_index, instruction_index=instruction_index,
    )


def _lookahead_warm(engine: str = "cachelab", *, finished: bool = True) -> Recording:
    """Stage 0 eliminated after its probe, stage 1 built from hits: nothing was executed or pushed."""
    events: list[object] = [
        lookahead.started(engine),
        lookahead.stage(0, "eliminated"),
        lookahead.instruction(0, "skipped"),
        lookahead.stage(1, "built"),
        lookahead.instruction(1, "hit"),
        _span("probe", "probe-cache", 0, 0.0, 0.25, instruction_index=0),
        _span("stage", "stage", 1, 0.25, 1.0),
        _span("resolve", "resolve-base", 1, 0.25, 0.5),
        _span("instruction", "instruction", 1, 0.5, 1.0, instruction_index=0),
    ]
    if finished:
        events.append(BuildFinished(build_id="b1", wall_s=1.0, outcome="ok"))
    return Recording.from_events(events, environment={})  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", sorted(schema.PHASE_TIMING_ENGINES))
def test_phases_not_run_are_zero(engine: str) -> None:
    stages = _lookahead_warm(engine).stages.set_index("stage_index")

    for column in PHASE_COLUMNS:
        assert stages[column].notna().all(), column
    assert stages.loc[0, "execute_s"] == 0.0
    assert stages.loc[0, "download_s"] == 0.0
    assert stages.loc[1, "execute_s"] == 0.0
    assert stages.loc[1, "push_s"] == 0.0


@pytest.mark.parametrize("engine", sorted(schema.PHASE_TIMING_ENGINES))
def test_eliminated_stage_keeps_its_probe_time(engine: str) -> None:
    recording = _lookahead_warm(engine)
    eliminated = recording.stages.set_index("stage_index").loc[0]
    skipped = recording.instructions.set_index("stage_index").loc[0]

    assert eliminated["probe_s"] == 0.25
    assert eliminated["resolve_s"] == 0.0
    assert eliminated["wall_s"] == 0.0
    assert skipped["wall_s"] == 0.0


def test_other_engine_unmeasured_phase_is_na() -> None:
    stages = _lookahead_warm("kaniko").stages.set_index("stage_index")

    assert stages["execute_s"].isna().all()
    assert stages["push_s"].isna().all()
    # Some span of the build has the phase, so the stage without one gets 0.
    assert stages.loc[0, "resolve_s"] == 0.0


def test_unfinished_build_unmeasured_phase_is_na() -> None:
    stages = _lookahead_warm(finished=False).stages

    assert stages["execute_s"].isna().all()
    assert stages["probe_s"].notna().all()


def _write_version_6(recording: Recording, directory: Path) -> None:
    # Version 6 wrote NA where no span of a build carried the column's phases.
    recording.save(directory)
    unmeasured = ("download_s", "unpack_s", "hash_s", "execute_s", "snapshot_s", "push_s", "save_s")
    for table in schema.TABLES:
        path = directory / f"{table}.parquet"
        arrow_table = pq.read_table(path)
        if table == "stages":
            for column in unmeasured:
                index = arrow_table.column_names.index(column)
                arrow_table = arrow_table.set_column(index, column, pa.nulls(len(arrow_table), pa.float64()))
        metadata = {**arrow_table.schema.metadata, storage.VERSION_KEY: b"6"}
        pq.write_table(arrow_table.replace_schema_metadata(metadata), path)


def test_upgrade_writes_zero_for_timing_engines(tmp_path: Path) -> None:
    recording = _lookahead_warm("cachelab")
    _write_version_6(recording, tmp_path)

    loaded = Recording.load(tmp_path)

    pd.testing.assert_frame_equal(loaded.stages, recording.stages)


def test_upgrade_keeps_other_engines_na(tmp_path: Path) -> None:
    _write_version_6(_lookahead_warm("kaniko"), tmp_path)

    loaded = Recording.load(tmp_path)

    assert loaded.stages["execute_s"].isna().all()
    assert loaded.stages["resolve_s"].notna().all()


def test_upgrade_keeps_unfinished_build_na(tmp_path: Path) -> None:
    _write_version_6(_lookahead_warm("cachelab", finished=False), tmp_path)

    loaded = Recording.load(tmp_path)

    assert loaded.stages["execute_s"].isna().all()
