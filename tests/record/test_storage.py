"""Parquet round trip, schema version checks and the upgrade hook."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cachelab.record import (
    RecordError,
    Recording,
    SchemaVersionError,
    SyntheticStage,
    concat,
    schema,
    storage,
    synthetic_build,
)


def sample_recording() -> Recording:
    events = synthetic_build(
        "a",
        stages=(
            SyntheticStage(key_blockers=("copy-from-content",), name="deps"),
            SyntheticStage(action="eliminated"),
        ),
    ) + synthetic_build("b", strategy="no-cache", scenario=None)
    return Recording.from_events(events, environment={"host": "test-host", "cpu_count": 2})


def set_version(path: Path, version: bytes) -> None:
    table = pq.read_table(path)
    metadata = dict(table.schema.metadata)
    metadata[storage.VERSION_KEY] = version
    pq.write_table(table.replace_schema_metadata(metadata), path)


def test_round_trip_keeps_values_and_dtypes(tmp_path: Path) -> None:
    recording = sample_recording()
    recording.save(tmp_path / "run")
    loaded = Recording.load(tmp_path / "run")

    for table in schema.TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, table), getattr(recording, table))
        assert getattr(loaded, table).cachelab.dtype_mismatches() == {}
    assert loaded.environments == [{"host": "test-host", "cpu_count": 2}]


def test_round_trip_keeps_na_and_lists(tmp_path: Path) -> None:
    recording = sample_recording()
    recording.save(tmp_path)
    loaded = Recording.load(tmp_path)

    assert pd.isna(loaded.builds.set_index("build_id").loc["b", "scenario"])
    assert pd.isna(loaded.stages["stage_name"].iloc[1])
    assert list(loaded.stages["key_blockers"].iloc[0]) == ["copy-from-content"]
    assert list(loaded.stages["key_blockers"].iloc[1]) == []


def test_files_carry_schema_version(tmp_path: Path) -> None:
    sample_recording().save(tmp_path)

    for table in schema.TABLES:
        metadata = pq.read_schema(tmp_path / f"{table}.parquet").metadata
        assert metadata[storage.VERSION_KEY] == str(schema.SCHEMA_VERSION).encode()
        assert metadata[b"schema_version"] == str(schema.SCHEMA_VERSION).encode()
        assert metadata[storage.TABLE_KEY] == table.encode()
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("umask", [0o022, 0o027], ids=["umask-022", "umask-027"])
def test_saved_files_follow_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        sample_recording().save(tmp_path)
    finally:
        os.umask(previous)

    for table in schema.TABLES:
        mode = stat.S_IMODE((tmp_path / f"{table}.parquet").stat().st_mode)
        assert mode == 0o666 & ~umask, f"{table}.parquet has mode {mode:o}"


def test_newer_schema_version_rejected(tmp_path: Path) -> None:
    sample_recording().save(tmp_path)
    newer = str(schema.SCHEMA_VERSION + 1).encode()
    for table in schema.TABLES:
        set_version(tmp_path / f"{table}.parquet", newer)

    with pytest.raises(SchemaVersionError, match="newer than") as info:
        Recording.load(tmp_path)
    assert "Upgrade cachelab" in (info.value.hint or "")


def test_older_version_without_upgrade_rejected(tmp_path: Path) -> None:
    sample_recording().save(tmp_path)
    for table in schema.TABLES:
        set_version(tmp_path / f"{table}.parquet", b"0")

    with pytest.raises(SchemaVersionError, match="version 0 and no upgrade step"):
        Recording.load(tmp_path)


def test_upgrade_step_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = sample_recording()
    recording.save(tmp_path)
    for table in schema.TABLES:
        set_version(tmp_path / f"{table}.parquet", b"0")
    calls = []

    def rename_engine(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        calls.append(sorted(tables))
        tables["builds"] = tables["builds"].assign(engine="upgraded")
        return tables

    monkeypatch.setitem(storage.UPGRADES, 0, rename_engine)
    loaded = Recording.load(tmp_path)

    assert calls == [sorted(schema.TABLES)]
    assert set(loaded.builds["engine"]) == {"upgraded"}
    assert loaded.builds["engine"].dtype == "string"


def test_missing_version_metadata_rejected(tmp_path: Path) -> None:
    sample_recording().save(tmp_path)
    path = tmp_path / "stages.parquet"
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({}), path)

    with pytest.raises(SchemaVersionError, match="stages.parquet has no cachelab.schema_version"):
        Recording.load(tmp_path)


def test_mixed_versions_rejected(tmp_path: Path) -> None:
    sample_recording().save(tmp_path)
    set_version(tmp_path / "spans.parquet", b"0")

    with pytest.raises(RecordError, match="different schema versions"):
        Recording.load(tmp_path)


def test_missing_table_file_rejected(tmp_path: Path) -> None:
    sample_recording().save(tmp_path)
    (tmp_path / "instructions.parquet").unlink()

    with pytest.raises(RecordError, match="has no instructions.parquet"):
        Recording.load(tmp_path)


def test_missing_directory_rejected(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="recording directory not found"):
        Recording.load(tmp_path / "absent")


def test_missing_column_after_upgrade_rejected(tmp_path: Path) -> None:
    sample_recording().save(tmp_path)
    path = tmp_path / "builds.parquet"
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["host"]).replace_schema_metadata(table.schema.metadata), path)

    with pytest.raises(RecordError, match="builds table of .* lacks columns: host"):
        Recording.load(tmp_path)


def test_extra_columns_survive(tmp_path: Path) -> None:
    recording = sample_recording()
    recording.builds["note"] = pd.array(["x", None], dtype="string")
    recording.save(tmp_path)
    loaded = Recording.load(tmp_path)

    assert list(loaded.builds.columns)[-1] == "note"
    assert loaded.builds["note"].iloc[0] == "x"
    assert loaded.builds["note"].iloc[1] is pd.NA
    assert loaded.builds["note"].dtype == pd.StringDtype()


def test_version_2_gains_squash_and_attributes(tmp_path: Path) -> None:
    sample_recording().save(tmp_path)
    dropped = {"stages": ["squashed_into"], "spans": ["attributes"]}
    for table in schema.TABLES:
        path = tmp_path / f"{table}.parquet"
        arrow_table = pq.read_table(path)
        metadata = {**arrow_table.schema.metadata, storage.VERSION_KEY: b"2"}
        arrow_table = arrow_table.drop_columns(dropped.get(table, []))
        pq.write_table(arrow_table.replace_schema_metadata(metadata), path)

    loaded = Recording.load(tmp_path)

    assert loaded.stages["squashed_into"].isna().all()
    assert loaded.stages["squashed_into"].dtype == "Int64"
    assert loaded.spans["attributes"].isna().all()
    assert loaded.spans["attributes"].dtype == "string"


def test_concat_joins_tables_and_environments() -> None:
    first = Recording.from_events(synthetic_build("a"), environment={"host": "h", "captured_at": 1})
    second = Recording.from_events(synthetic_build("b"), environment={"host": "h", "captured_at": 2})
    third = Recording.from_events(synthetic_build("c"), environment={"host": "other"})
    joined = concat([first, second, third])

    assert list(joined.builds["build_id"]) == ["a", "b", "c"]
    assert len(joined.stages) == 6
    assert joined.environments == [{"host": "h", "captured_at": 1}, {"host": "other"}]
    assert joined.stages.cachelab.dtype_mismatches() == {}


def test_concat_rejects_duplicate_build_ids() -> None:
    first = Recording.from_events(synthetic_build("a"), environment={})

    with pytest.raises(RecordError, match="build_id 'a' occurs in more than one"):
        concat([first, first])


def test_concat_of_nothing_is_empty() -> None:
    assert len(concat([]).builds) == 0
