"""Tables built from synthetic event streams: columns, dtypes, NA rules, derived times."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import pandas as pd
import pytest

from cachelab.events import (
    BuildFinished,
    BuildStarted,
    ListSink,
    SpanClock,
    SpanRecorded,
    StageRecorded,
)
from cachelab.record import (
    EventStreamError,
    Recording,
    SyntheticStage,
    SyntheticTimings,
    schema,
    synthetic_build,
)

TIMINGS = SyntheticTimings()


def record(*stages: SyntheticStage, **options: object) -> Recording:
    return Recording.from_events(synthetic_build(stages=stages, **options), environment={})


def started(build_id: str = "b1") -> BuildStarted:
    return BuildStarted(
        build_id=build_id,
        run_id="r",
        engine="cachelab",
        engine_version="0.1.0",
        strategy="per-stage",
        profile=None,
        flags=None,
        dockerfile_id="d",
        target=None,
        started_at=datetime(2026, 1, 1),
    )


def stage(build_id: str = "b1", index: int = 0, action: str = "built") -> StageRecorded:
    return StageRecorded(
        build_id=build_id,
        stage_index=index,
        stage_name=None,
        base="scratch",
        base_kind="scratch",
        action=action,
        unpacked=False,
        final_key=None,
        key_a_priori=None,
    )


def span(
    span_id: str,
    phase: str,
    start: float,
    end: float,
    parent: str | None = None,
    stage_index: int | None = 0,
    nbytes: int | None = None,
) -> SpanRecorded:
    return SpanRecorded(
        build_id="b1",
        span_id=span_id,
        parent_id=parent,
        phase=phase,
        start_s=start,
        end_s=end,
        stage_index=stage_index,
        bytes=nbytes,
    )


@pytest.mark.parametrize("table", list(schema.TABLES))
def test_columns_and_dtypes_match_schema(table: str) -> None:
    recording = record(SyntheticStage(), SyntheticStage(action="eliminated"))
    frame = getattr(recording, table)

    assert list(frame.columns) == list(schema.TABLES[table])
    assert frame.cachelab.dtype_mismatches() == {}


def test_empty_recording_has_schema_dtypes() -> None:
    recording = Recording.empty()

    for table in schema.TABLES:
        frame = getattr(recording, table)
        assert len(frame) == 0
        assert frame.cachelab.dtype_mismatches() == {}


def test_stage_phase_times_sum_spans() -> None:
    recording = record(SyntheticStage(instructions=3, hits=1))
    row = recording.stages.iloc[0]

    misses = 2
    assert row["resolve_s"] == TIMINGS.resolve_s
    assert row["download_s"] == TIMINGS.download_s
    assert row["unpack_s"] == TIMINGS.unpack_s
    assert row["probe_s"] == 3 * TIMINGS.probe_s
    assert row["execute_s"] == misses * TIMINGS.execute_s
    assert row["snapshot_s"] == misses * TIMINGS.snapshot_s
    assert row["push_s"] == misses * TIMINGS.push_layer_s
    assert row["bytes_pushed"] == misses * TIMINGS.push_layer_bytes
    assert row["bytes_downloaded"] == TIMINGS.download_bytes
    assert row["requests"] == 2 + 1 + 3 * 1 + misses * 2


def test_stage_wall_is_stage_span_length() -> None:
    recording = record(SyntheticStage(instructions=2), SyntheticStage(instructions=1, hits=1))
    spans = recording.spans
    stage_spans = spans[spans["phase"] == "stage"].set_index("stage_index")
    lengths = stage_spans["end_s"] - stage_spans["start_s"]

    for _, row in recording.stages.iterrows():
        assert row["wall_s"] == lengths[row["stage_index"]]


def test_unmeasured_phase_is_na_not_zero() -> None:
    events = [
        dataclasses.replace(event, engine="kaniko") if isinstance(event, BuildStarted) else event
        for event in synthetic_build(stages=(SyntheticStage(),))
    ]
    row = Recording.from_events(events, environment={}).stages.iloc[0]

    assert pd.isna(row["hash_s"])
    assert pd.isna(row["save_s"])


def test_model_phase_not_run_is_zero() -> None:
    # The model opens a span for every phase it simulates, so a phase without spans took no time.
    row = record(SyntheticStage()).stages.iloc[0]

    assert row["hash_s"] == 0.0
    assert row["save_s"] == 0.0


def test_phase_measured_elsewhere_is_zero() -> None:
    recording = record(SyntheticStage(), SyntheticStage(instructions=1, hits=1))
    hit_stage = recording.stages.iloc[1]

    # The first stage downloads its base, so the source measures downloads.
    assert hit_stage["download_s"] == 0.0
    assert hit_stage["bytes_downloaded"] == 0
    assert not hit_stage["unpacked"]


def test_eliminated_stage_rows() -> None:
    recording = record(SyntheticStage(), SyntheticStage(action="eliminated", instructions=3))
    stage_row = recording.stages.iloc[1]
    instructions = recording.instructions[recording.instructions["stage_index"] == 1]

    assert stage_row["action"] == "eliminated"
    assert stage_row["execute_s"] == 0.0
    assert stage_row["instructions"] == 3
    assert stage_row["cache_hits"] == 0
    assert list(instructions["decision"]) == ["skipped"] * 3
    assert not instructions["probed"].any()


def test_instruction_times_from_spans() -> None:
    recording = record(SyntheticStage(instructions=2, hits=1))
    hit, miss = recording.instructions.iloc[0], recording.instructions.iloc[1]

    assert hit["wall_s"] == TIMINGS.probe_s
    expected_miss = TIMINGS.probe_s + TIMINGS.execute_s + TIMINGS.snapshot_s + TIMINGS.push_layer_s
    assert miss["wall_s"] == expected_miss
    assert hit["bytes_pushed"] == 0
    assert miss["bytes_pushed"] == TIMINGS.push_layer_bytes
    assert pd.isna(hit["files_hashed"])


def test_build_totals_from_stages_and_image_push() -> None:
    recording = record(SyntheticStage(instructions=2), SyntheticStage(instructions=2, hits=2))
    build = recording.builds.iloc[0]
    stages = recording.stages

    assert build["bytes_downloaded"] == stages["bytes_downloaded"].sum()
    assert build["bytes_pushed"] == stages["bytes_pushed"].sum() + TIMINGS.push_image_bytes
    assert build["stages_total"] == 2
    assert build["stages_built"] == 2
    assert build["stages_eliminated"] == 0
    assert build["cache_hits"] == 2
    assert build["cache_misses"] == 2


def test_build_wall_and_timestamp() -> None:
    build = record(SyntheticStage()).builds.iloc[0]
    spans = record(SyntheticStage()).spans

    assert build["wall_s"] == spans["end_s"].max()
    assert build["started_at"] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert build["outcome"] == "ok"
    assert pd.isna(build["error"])


def test_key_lists_are_lists() -> None:
    recording = record(
        SyntheticStage(key_blockers=("copy-from-content",), key_risks=("base-tag-mutable",)),
        SyntheticStage(),
    )
    stages = recording.stages

    assert list(stages["key_blockers"].iloc[0]) == ["copy-from-content"]
    assert list(stages["key_risks"].iloc[0]) == ["base-tag-mutable"]
    assert list(stages["key_blockers"].iloc[1]) == []
    assert not stages["key_a_priori"].iloc[0]


def test_naive_start_time_is_utc() -> None:
    recording = Recording.from_events([started()], environment={})
    build = recording.builds.iloc[0]

    assert build["started_at"] == pd.Timestamp("2026-01-01T00:00:00Z")


def test_unfinished_build_has_na_outcome_and_counts() -> None:
    recording = Recording.from_events([started()], environment={})
    build = recording.builds.iloc[0]

    assert pd.isna(build["wall_s"])
    assert pd.isna(build["outcome"])
    assert pd.isna(build["stages_total"])
    assert pd.isna(build["cache_hits"])
    assert pd.isna(build["bytes_pushed"])


def test_same_phase_child_not_counted_twice() -> None:
    events = [
        started(),
        stage(),
        span("outer", "download", 0.0, 2.0, nbytes=100),
        span("inner", "download", 0.5, 1.5, parent="outer", nbytes=100),
        span("blob", "download-blob", 0.5, 1.0, parent="outer"),
        BuildFinished(build_id="b1", wall_s=2.0, outcome="ok"),
    ]
    row = Recording.from_events(events, environment={}).stages.iloc[0]

    assert row["download_s"] == 2.0
    assert row["bytes_downloaded"] == 100
    assert pd.isna(row["requests"])


def test_spans_without_bytes_give_na_bytes() -> None:
    events = [started(), stage(), span("u", "unpack", 0.0, 1.0)]
    row = Recording.from_events(events, environment={}).stages.iloc[0]

    assert row["unpack_s"] == 1.0
    assert pd.isna(row["bytes_unpacked"])


def test_several_builds_in_one_stream() -> None:
    events = synthetic_build("a") + synthetic_build("b", strategy="no-cache")
    recording = Recording.from_events(events, environment={})

    assert list(recording.builds["build_id"]) == ["a", "b"]
    assert list(recording.builds["strategy"]) == ["lookahead", "no-cache"]
    assert set(recording.spans["build_id"]) == {"a", "b"}
    assert len(recording.stages) == 4


def test_missing_build_started_raises() -> None:
    with pytest.raises(EventStreamError, match="'b1' has events but no BuildStarted") as info:
        Recording.from_events([stage()], environment={})

    assert info.value.hint


@pytest.mark.parametrize(
    "events, message",
    [
        ([started(), started()], "more than one BuildStarted"),
        ([started(), stage(), stage()], "stage 0 more than once"),
        ([started(), span("x", "unpack", 0, 1), span("x", "unpack", 1, 2)], "span 'x'"),
    ],
)
def test_duplicate_events_raise(events: list[object], message: str) -> None:
    with pytest.raises(EventStreamError, match=message):
        Recording.from_events(events, environment={})


def test_default_environment_is_captured() -> None:
    recording = Recording.from_events(synthetic_build())

    assert len(recording.environments) == 1
    assert recording.environments[0]["cachelab_version"]
    assert recording.environments[0]["cpu_count"]


def test_child_spans_inherit_stage_index() -> None:
    events = [
        started(),
        stage(),
        span("stage", "stage", 0.0, 3.0, stage_index=0),
        span("dl", "download", 0.0, 1.0, parent="stage", stage_index=None, nbytes=10),
        span("run", "execute", 1.0, 3.0, parent="stage", stage_index=None),
        span("push", "push-image", 3.0, 4.0, stage_index=None),
    ]
    recording = Recording.from_events(events, environment={})
    row = recording.stages.iloc[0]
    spans = recording.spans.set_index("span_id")

    assert row["download_s"] == 1.0
    assert row["execute_s"] == 2.0
    assert row["bytes_downloaded"] == 10
    assert spans.loc["dl", "stage_index"] == 0
    assert pd.isna(spans.loc["push", "stage_index"])
    assert pd.isna(spans.loc["dl", "instruction_index"])


def test_span_clock_events_become_tables() -> None:
    sink = ListSink()
    sink.emit(started())
    sink.emit(stage())
    clock = SpanClock("b1", sink)
    with clock.span("build"), clock.span("stage", stage_index=0):
        with clock.span("download") as download:
            download.add_bytes(2048)
            download.add_requests(3)
        with clock.span("execute"):
            pass
    sink.emit(BuildFinished(build_id="b1", wall_s=clock.now(), outcome="ok"))
    recording = Recording.from_events(sink.events, environment={})
    spans = recording.spans.set_index("phase")
    row = recording.stages.iloc[0]

    download_length = spans.loc["download", "end_s"] - spans.loc["download", "start_s"]
    assert row["download_s"] == download_length
    assert row["bytes_downloaded"] == 2048
    assert row["requests"] == 3
    assert row["wall_s"] == spans.loc["stage", "end_s"] - spans.loc["stage", "start_s"]
    assert spans.loc["execute", "parent_id"] == spans.loc["download", "parent_id"]
    assert recording.builds.iloc[0]["bytes_downloaded"] == 2048


def test_squashed_stage_names_its_child() -> None:
    squashed = dataclasses.replace(stage(index=0, action="squashed"), squashed_into=1)
    events = [started(), squashed, stage(index=1)]
    stages = Recording.from_events(events, environment={}).stages

    assert stages["squashed_into"].dtype == "Int64"
    assert stages["squashed_into"].iloc[0] == 1
    assert pd.isna(stages["squashed_into"].iloc[1])


def test_span_attributes_kept_as_json() -> None:
    tagged = dataclasses.replace(span("c", "execute", 0.0, 1.0), attributes={"line": "3", "cmd": "make"})
    events = [started(), stage(), tagged, span("u", "unpack", 1.0, 2.0)]
    spans = Recording.from_events(events, environment={}).spans.set_index("span_id")

    assert spans["attributes"].dtype == "string"
    assert json.loads(spans.loc["c", "attributes"]) == {"cmd": "make", "line": "3"}
    assert spans.loc["c", "attributes"] == '{"cmd": "make", "line": "3"}'
    assert pd.isna(spans.loc["u", "attributes"])


def test_unknown_start_fields_are_na() -> None:
    unknown = dataclasses.replace(started(), strategy=None, dockerfile_id=None, started_at=None)
    base_unknown = dataclasses.replace(stage(), base=None, base_kind=None)
    recording = Recording.from_events([unknown, base_unknown], environment={})
    build = recording.builds.iloc[0]
    row = recording.stages.iloc[0]

    assert pd.isna(build["strategy"])
    assert pd.isna(build["dockerfile_id"])
    assert pd.isna(build["started_at"])
    assert recording.builds["started_at"].dtype == "datetime64[ns, UTC]"
    assert pd.isna(row["base"])
    assert pd.isna(row["base_kind"])


def test_phase_seconds_add_in_span_order() -> None:
    # Summed per phase first, the same spans give 2.5000000000000004 instead.
    events = [
        started(),
        stage(),
        span("layer-a", "push-layer", 0.0, 0.1),
        span("pointer", "push-pointer", 0.0, 0.2),
        span("layer-b", "push-layer", 0.0, 2.2),
    ]
    row = Recording.from_events(events, environment={}).stages.iloc[0]

    assert row["push_s"] == 0.1 + 0.2 + 2.2


def test_span_parent_cycle_ends_walk() -> None:
    events = [
        started(),
        stage(),
        span("a", "download", 0.0, 1.0, parent="b"),
        span("b", "unpack", 0.0, 2.0, parent="a", stage_index=None),
    ]
    recording = Recording.from_events(events, environment={})

    assert list(recording.spans["stage_index"]) == [0, 0]
    assert recording.stages["download_s"].iloc[0] == 1.0
    assert recording.stages["unpack_s"].iloc[0] == 2.0


def test_table_from_columns_fills_missing_columns() -> None:
    table = schema.table_from_columns("spans", {"span_id": ["s1", "s2"]}, 2)

    assert list(table.columns) == list(schema.SPANS)
    assert list(table["span_id"]) == ["s1", "s2"]
    assert table["build_id"].isna().all()
    assert table["bytes"].dtype == "Int64"


def test_table_from_columns_rejects_bad_columns() -> None:
    with pytest.raises(ValueError, match="'span_id' of table 'spans' has 1 values, expected 2"):
        schema.table_from_columns("spans", {"span_id": ["s1"]}, 2)
    with pytest.raises(ValueError, match="table 'spans' has no column 'span'"):
        schema.table_from_columns("spans", {"span": ["s1", "s2"]}, 2)
