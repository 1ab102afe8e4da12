"""Loading rejects recordings whose files are damaged or break the schema's rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cachelab.cli import main
from cachelab.record import (
    InvalidRecordingError,
    RecordError,
    Recording,
    SyntheticStage,
    concat,
    schema,
    storage,
    synthetic_build,
)

Edit = Callable[[pd.DataFrame], pd.DataFrame]


def sample_recording() -> Recording:
    first = synthetic_build(
        "a", stages=(SyntheticStage(name="deps"), SyntheticStage(action="eliminated"), SyntheticStage())
    )
    second = synthetic_build("b", strategy="no-cache", scenario=None)
    return Recording.from_events(first + second, environment={"host": "test-host"})


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return sample_recording().save(tmp_path / "run")


def edit_table(directory: Path, table: str, edit: Edit) -> None:
    """Rewrite `table`'s file with `edit` applied, keeping its metadata."""
    path = directory / f"{table}.parquet"
    arrow_table = pq.read_table(path)
    frame = edit(arrow_table.to_pandas())
    edited = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(edited.replace_schema_metadata(arrow_table.schema.metadata), path)


def set_value(column: str, row: int, value: object) -> Edit:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return edit


def load_problems(directory: Path) -> list[str]:
    with pytest.raises(InvalidRecordingError) as info:
        Recording.load(directory)
    return info.value.problems


def test_valid_recording_loads(saved: Path) -> None:
    loaded = Recording.load(saved)

    assert len(loaded.builds) == 2


def test_negative_wall_time_rejected(saved: Path) -> None:
    edit_table(saved, "builds", set_value("wall_s", 1, -3.0))

    problems = load_problems(saved)

    assert problems == [f"{saved / 'builds.parquet'}: column wall_s is negative in row 1"]


def test_negative_bytes_rejected(saved: Path) -> None:
    edit_table(saved, "spans", set_value("bytes", 2, -1))

    problems = load_problems(saved)

    assert problems == [f"{saved / 'spans.parquet'}: column bytes is negative in row 2"]


def test_negative_phase_time_rejected(saved: Path) -> None:
    edit_table(saved, "stages", set_value("download_s", 0, -0.5))

    problems = load_problems(saved)

    assert problems == [f"{saved / 'stages.parquet'}: column download_s is negative in row 0"]


def test_duplicated_build_rejected(saved: Path) -> None:
    edit_table(saved, "builds", lambda frame: pd.concat([frame, frame.iloc[[0]]], ignore_index=True))

    problems = load_problems(saved)

    assert problems == [
        f"{saved / 'builds.parquet'}: primary key (build_id) repeats in rows 0, 2, for example 'a'"
    ]


def test_duplicated_instruction_rejected(saved: Path) -> None:
    edit_table(saved, "instructions", lambda frame: pd.concat([frame, frame.iloc[[3]]], ignore_index=True))

    problems = load_problems(saved)

    assert len(problems) == 2
    assert problems[0] == (
        f"{saved / 'instructions.parquet'}: primary key (build_id, stage_index, instruction_index) "
        "repeats in rows 3, 10, for example ('a', 1, 1)"
    )
    assert problems[1] == (
        f"{saved / 'instructions.parquet'}: key (build_id, origin_stage_index, origin_instruction_index) "
        "repeats in rows 3, 10, for example ('a', 1, 1)"
    )


def test_duplicated_span_rejected(saved: Path) -> None:
    edit_table(saved, "spans", lambda frame: pd.concat([frame, frame.iloc[[0]]], ignore_index=True))

    problems = load_problems(saved)

    assert len(problems) == 1
    assert "spans.parquet: primary key (build_id, span_id) repeats in rows 0, " in problems[0]


def test_missing_key_rejected(saved: Path) -> None:
    edit_table(saved, "stages", set_value("stage_index", 1, None))

    problems = load_problems(saved)

    assert problems == [
        f"{saved / 'stages.parquet'}: column stage_index is NA in row 1, but it is part of the primary key"
    ]


def test_unknown_decision_rejected(saved: Path) -> None:
    edit_table(saved, "instructions", set_value("decision", 4, "maybe"))

    problems = load_problems(saved)

    assert problems == [
        (f"{saved / 'instructions.parquet'}: column decision has invalid values 'maybe' in row 4. "
         "Valid values are hit, miss, not-probed, skipped, unkeyed"),
    ]


def test_unknown_action_rejected(saved: Path) -> None:
    edit_table(saved, "stages", set_value("action", 0, "exploded"))

    problems = load_problems(saved)

    assert len(problems) == 1
    assert problems[0].startswith(
        f"{saved / 'stages.parquet'}: column action has invalid values 'exploded' in row 0."
    )


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [("builds", "outcome", "fine"), ("stages", "base_kind", "disk"), ("instructions", "key_source", "guess")],
)
def test_vocabulary_checked(saved: Path, table: str, column: str, value: str) -> None:
    edit_table(saved, table, set_value(column, 0, value))

    problems = load_problems(saved)

    assert len(problems) == 1
    assert f"column {column} has invalid values {value!r} in row 0." in problems[0]


def test_open_vocabularies_accepted(saved: Path) -> None:
    edit_table(saved, "builds", set_value("engine", 0, "podman"))
    edit_table(saved, "spans", set_value("phase", 0, "compress"))

    loaded = Recording.load(saved)

    assert loaded.builds["engine"].iloc[0] == "podman"
    assert loaded.spans["phase"].iloc[0] == "compress"


def test_span_ending_before_start_rejected(saved: Path) -> None:
    def swap(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[5, ["start_s", "end_s"]] = [2.0, 1.0]
        return frame

    edit_table(saved, "spans", swap)

    problems = load_problems(saved)

    assert problems == [f"{saved / 'spans.parquet'}: column end_s is less than start_s in row 5"]


def test_stage_counts_must_add_up(saved: Path) -> None:
    edit_table(saved, "builds", set_value("stages_built", 0, 3))

    problems = load_problems(saved)

    assert problems == [
        (f"{saved / 'builds.parquet'}: column stages_total is not the sum of stages_built, "
         "stages_eliminated, stages_squashed, stages_unused in row 0"),
    ]


def test_rows_listed_up_to_five(saved: Path) -> None:
    edit_table(saved, "spans", lambda frame: frame.assign(bytes=-1))

    problems = load_problems(saved)
    total = len(pq.read_table(saved / "spans.parquet"))

    assert problems == [
        f"{saved / 'spans.parquet'}: column bytes is negative in rows 0, 1, 2, 3, 4 and {total - 5} more"
    ]


def test_every_problem_listed_once(saved: Path) -> None:
    edit_table(saved, "builds", set_value("wall_s", 0, -1.0))
    edit_table(saved, "stages", set_value("action", 1, "exploded"))
    edit_table(saved, "instructions", set_value("decision", 0, "maybe"))

    with pytest.raises(InvalidRecordingError) as info:
        Recording.load(saved)

    message = str(info.value)
    assert message.startswith(f"recording {saved} is invalid (3 problems):\n")
    assert len(info.value.problems) == 3
    for problem in info.value.problems:
        assert f"\n  {problem}" in message
    assert "record the builds again" in (info.value.hint or "")


def test_table_name_must_match_file(saved: Path) -> None:
    path = saved / "builds.parquet"
    arrow_table = pq.read_table(path)
    metadata = {**arrow_table.schema.metadata, storage.TABLE_KEY: b"spans"}
    pq.write_table(arrow_table.replace_schema_metadata(metadata), path)

    with pytest.raises(RecordError) as info:
        Recording.load(saved)

    assert str(info.value) == f"{path} has table 'spans' in its cachelab.table metadata, expected 'builds'"


def test_spans_file_copied_over_builds_rejected(saved: Path) -> None:
    (saved / "builds.parquet").write_bytes((saved / "spans.parquet").read_bytes())

    with pytest.raises(RecordError, match="has table 'spans' in its cachelab.table metadata, expected 'builds'"):
        Recording.load(saved)


def test_truncated_file_rejected(saved: Path) -> None:
    path = saved / "stages.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(RecordError) as info:
        Recording.load(saved)

    assert str(info.value).startswith(f"cannot read {path} as Parquet: ")
    assert "damaged or truncated" in (info.value.hint or "")
    assert isinstance(info.value.__cause__, pa.ArrowInvalid)


def test_non_parquet_file_rejected(saved: Path) -> None:
    path = saved / "spans.parquet"
    path.write_text("build_id,span_id\na,s1\n")

    with pytest.raises(RecordError) as info:
        Recording.load(saved)

    assert str(info.value).startswith(f"cannot read {path} as Parquet: ")


@pytest.mark.parametrize("value", [b"{not json", b"\xff\xfe"], ids=["syntax", "encoding"])
def test_invalid_environments_json_rejected(saved: Path, value: bytes) -> None:
    path = saved / "builds.parquet"
    arrow_table = pq.read_table(path)
    metadata = {**arrow_table.schema.metadata, storage.ENVIRONMENTS_KEY: value}
    pq.write_table(arrow_table.replace_schema_metadata(metadata), path)

    with pytest.raises(RecordError) as info:
        Recording.load(saved)

    assert str(info.value).startswith(f"invalid JSON in the cachelab.environments metadata of {path}: ")


def test_environments_must_be_a_list(saved: Path) -> None:
    path = saved / "builds.parquet"
    arrow_table = pq.read_table(path)
    metadata = {**arrow_table.schema.metadata, storage.ENVIRONMENTS_KEY: b'{"host": "h"}'}
    pq.write_table(arrow_table.replace_schema_metadata(metadata), path)

    with pytest.raises(RecordError, match="is not a JSON list of objects"):
        Recording.load(saved)


def test_column_of_wrong_type_rejected(saved: Path) -> None:
    edit_table(saved, "builds", lambda frame: frame.assign(wall_s=["fast", "slow"]))

    with pytest.raises(RecordError) as info:
        Recording.load(saved)

    assert str(info.value).startswith(f"column wall_s of {saved / 'builds.parquet'} cannot be read as Float64: ")


def test_regress_reports_negative_wall_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recordings = [
        Recording.from_events(synthetic_build(f"{prefix}-{repeat}", repeat=repeat), environment={"host": "h"})
        for prefix in ("old", "new")
        for repeat in range(3)
    ]
    old = concat(recordings[:3]).save(tmp_path / "old")
    new = concat(recordings[3:]).save(tmp_path / "new")
    edit_table(new, "builds", set_value("wall_s", 0, -1.0))

    code = main(["regress", str(old), str(new)])

    output = capsys.readouterr()
    assert code == 1
    assert f"{new / 'builds.parquet'}: column wall_s is negative in row 0" in output.err
    assert "better" not in output.out


def test_many_builds_load(tmp_path: Path) -> None:
    recording = concat(
        Recording.from_events(synthetic_build(f"b{index}"), environment={}) for index in range(200)
    )
    recording.save(tmp_path)

    loaded = Recording.load(tmp_path)

    assert len(loaded.builds) == 200
    for table in schema.TABLES:
        assert len(getattr(loaded, table)) == len(getattr(recording, table))
