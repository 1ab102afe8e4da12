"""Byte columns: 0 when the source reports that nothing moved, NA only when the count is unknown."""

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

BYTE_COLUMNS = list(schema.BYTE_COLUMNS)
TABLES_WITH_BYTES = ("builds", "stages", "instructions")


def _span(span_id: str, phase: str, stage_index: int | None, nbytes: int | None) -> SpanRecorded:
    return SpanRecorded(
        build_id="b1", span_id=span_id, parent_id=None, phase=phase, start_s=0.0, end_s=1.0,
        stage_index=stage_index, instruction_index=0 if stage_index is not None else None, bytes=nbytes,
    )


def _lookahead_warm(engine: str = "cachelab", *spans: SpanRecorded, finished: bool = True) -> Recording:
    """Stage 0 eliminated, stage 1 all hits: no span moves any byte unless given."""
    events: list[object] = [
        lookahead.started(engine),
        lookahead.stage(0, "eliminated"),
        lookahead.instruction(0, "skipped"),
        lookahead.stage(1, "built"),
        lookahead.instruction(1, "hit"),
        _span("probe", "probe-cache", 1, None),
        *spans,
    ]
    if finished:
        events.append(BuildFinished(build_id="b1", wall_s=1.0, outcome="ok"))
    return Recording.from_events(events, environment={})  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", sorted(schema.BYTE_COUNTING_ENGINES))
@pytest.mark.parametrize("table", TABLES_WITH_BYTES)
def test_nothing_moved_is_zero(engine: str, table: str) -> None:
    frame = _lookahead_warm(engine).tables()[table]

    for column in BYTE_COLUMNS:
        assert list(frame[column]) == [0] * len(frame), column


@pytest.mark.parametrize("table", TABLES_WITH_BYTES)
def test_other_engine_without_spans_is_na(table: str) -> None:
    frame = _lookahead_warm("kaniko").tables()[table]

    for column in BYTE_COLUMNS:
        assert frame[column].isna().all(), column


def test_unfinished_build_bytes_are_na() -> None:
    builds = _lookahead_warm(finished=False).builds

    for column in BYTE_COLUMNS:
        assert pd.isna(builds[column].iloc[0]), column


def test_unknown_span_size_is_na() -> None:
    # A failed push records no size, so the pushed bytes of its rows are unknown.
    recording = _lookahead_warm("cachelab", _span("push", "push-layer", 1, None))
    stages = recording.stages.set_index("stage_index")

    assert pd.isna(stages.loc[1, "bytes_pushed"])
    assert pd.isna(recording.builds["bytes_pushed"].iloc[0])
    assert stages.loc[0, "bytes_pushed"] == 0
    assert stages.loc[1, "bytes_downloaded"] == 0


def test_measured_spans_are_summed() -> None:
    recording = _lookahead_warm(
        "cachelab",
        _span("dl", "download", 1, 300),
        _span("push", "push-layer", 1, 40),
        _span("image", "push-image", None, 7),
    )
    build = recording.builds.iloc[0]
    stage = recording.stages.set_index("stage_index").loc[1]

    assert stage["bytes_downloaded"] == 300
    assert stage["bytes_pushed"] == 40
    assert stage["bytes_unpacked"] == 0
    assert build["bytes_pushed"] == 47


def test_pointer_push_adds_no_bytes() -> None:
    recording = _lookahead_warm("cachelab", _span("pointer", "push-pointer", 1, None))
    stage = recording.stages.set_index("stage_index").loc[1]
    spans = recording.spans.set_index("span_id")

    assert stage["bytes_pushed"] == 0
    assert recording.builds["bytes_pushed"].iloc[0] == 0
    assert stage["push_s"] == 1.0
    assert pd.isna(spans.loc["pointer", "bytes"])


def _write_version_3(recording: Recording, directory: Path, *, blank: tuple[str, ...] = BYTE_COLUMNS) -> None:
    # Version 3 wrote NA where no span of a build carried the column's phases.
    recording.save(directory)
    for table in (*TABLES_WITH_BYTES, "spans"):
        path = directory / f"{table}.parquet"
        arrow_table = pq.read_table(path)
        for column in blank:
            if column in arrow_table.column_names:
                index = arrow_table.column_names.index(column)
                arrow_table = arrow_table.set_column(index, column, pa.nulls(len(arrow_table), pa.int64()))
        metadata = {**arrow_table.schema.metadata, storage.VERSION_KEY: b"3"}
        pq.write_table(arrow_table.replace_schema_metadata(metadata), path)


def test_upgrade_writes_zero_for_counting_engines(tmp_path: Path) -> None:
    _write_version_3(_lookahead_warm("cachelab"), tmp_path)

    loaded = Recording.load(tmp_path)

    for table in TABLES_WITH_BYTES:
        frame = loaded.tables()[table]
        for column in BYTE_COLUMNS:
            assert list(frame[column]) == [0] * len(frame), (table, column)


def test_upgrade_keeps_other_engines_na(tmp_path: Path) -> None:
    _write_version_3(_lookahead_warm("kaniko"), tmp_path)

    loaded = Recording.load(tmp_path)

    for column in BYTE_COLUMNS:
        assert loaded.stages[column].isna().all(), column


def test_upgrade_keeps_unknown_span_size(tmp_path: Path) -> None:
    recording = _lookahead_warm("cachelab", _span("push", "push-layer", 1, None))
    _write_version_3(recording, tmp_path, blank=("bytes_pushed",))

    loaded = Recording.load(tmp_path)

    assert loaded.stages["bytes_pushed"].isna().all()
    assert list(loaded.stages["bytes_downloaded"]) == [0, 0]


def test_saved_recording_keeps_zeros(tmp_path: Path) -> None:
    recording = _lookahead_warm("model")
    recording.save(tmp_path)

    loaded = Recording.load(tmp_path)

    for table in TABLES_WITH_BYTES:
        pd.testing.assert_frame_equal(loaded.tables()[table][BYTE_COLUMNS], recording.tables()[table][BYTE_COLUMNS])

