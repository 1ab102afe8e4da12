"""kaniko OTLP traces to the four tables, on the constructed classic cold build."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cachelab.ingest.errors import IngestError
from cachelab.ingest.kaniko import ingest_kaniko_traces
from cachelab.ingest.kaniko_trace import read_kaniko_trace
from cachelab.ingest.otlp import decode_id, read_trace_file
from cachelab.record import Recording

DATA = Path(__file__).parent / "data"
TRACE = DATA / "kaniko-classic-cold.otlp.json"
TRACE_ID = "0123456789abcdef0123456789abcdef"


def test_trace_ids_decode_from_base64_and_hex() -> None:
    assert decode_id("ASNFZ4mrze8BI0VniavN7w==", 16, "test") == TRACE_ID
    assert decode_id(TRACE_ID.upper(), 16, "test") == TRACE_ID
    with pytest.raises(IngestError, match="expected 8 bytes"):
        decode_id("AAAA", 8, "test")


def test_trace_concatenated_requests_form_one_build() -> None:
    spans = read_trace_file(TRACE)
    runs = read_kaniko_trace(TRACE)

    assert {span.trace_id for span in spans} == {TRACE_ID}
    assert len(runs) == 1
    assert runs[0].build_id == f"kaniko-{TRACE_ID}"


def test_trace_build_row() -> None:
    builds = ingest_kaniko_traces([TRACE]).builds
    row = builds.iloc[0]

    assert row["engine"] == "kaniko"
    assert row["engine_version"] == "v1.28.3"
    assert row["strategy"] == "per-stage"
    assert row["flags"].splitlines()[0] == "FF_KANIKO_CACHE_LOOKAHEAD=false"
    assert row["dockerfile_id"] == "/workspace/Dockerfile"
    assert pd.isna(row["target"])
    assert row["wall_s"] == pytest.approx(0.9)
    assert row["outcome"] == "ok"
    assert row["started_at"].year == 2026
    assert row["cache_hits"] == 2
    assert row["cache_misses"] == 2
    assert row["kaniko_registry_requests"] == 31


def test_trace_instruction_decisions() -> None:
    instructions = ingest_kaniko_traces([TRACE]).instructions
    rows = list(
        instructions[["stage_index", "instruction_index", "line", "kind", "decision", "probed"]].itertuples(
            index=False, name=None
        )
    )

    assert rows == [
        (0, 0, 2, "RUN", "miss", True),
        (1, 0, 5, "COPY", "hit", True),
        (1, 1, 6, "RUN", "hit", True),
        (2, 0, 9, "COPY", "miss", True),
        (2, 1, 10, "ENV", "not-probed", False),
    ]
    assert instructions["key_source"].tolist() == ["text", "content", "text", "content", "text"]
    assert instructions["cache_key"].str.len().eq(64).all()


def test_trace_stages_unpacked_by_span() -> None:
    stages = ingest_kaniko_traces([TRACE]).stages

    assert stages["stage_index"].tolist() == [0, 1, 2]
    assert stages["unpacked"].tolist() == [True, False, True]
    assert stages["action"].tolist() == ["built", "built", "built"]
    assert stages["base"].isna().all()


def test_trace_phases_and_engine_names() -> None:
    spans = ingest_kaniko_traces([TRACE]).spans
    phase_of = dict(zip(spans["engine_name"].fillna("(derived)"), spans["phase"]))

    assert phase_of["FS Unpacking"] == "unpack"
    assert phase_of["Snapshotting FS"] == "snapshot"
    assert phase_of["Pushing cached layer"] == "push-layer"
    assert phase_of["Retrieving Source Image"] == "resolve-base"
    assert phase_of["Saving stage"] == "save-stage"
    assert phase_of["Command"] == "instruction"
    assert phase_of["Execute"] == "execute"
    assert phase_of["(derived)"] == "stage"


def test_trace_total_push_time_nests_in_cache_push() -> None:
    spans = ingest_kaniko_traces([TRACE]).spans.set_index("span_id")
    push_times = spans[spans["engine_name"] == "Total Push Time"]
    nested = push_times[push_times["parent_id"].isin(spans.index[spans["engine_name"] == "Pushing cached layer"])]
    final = push_times.drop(nested.index)

    assert len(nested) == 2
    assert set(nested["phase"]) == {"push-layer"}
    assert final["phase"].tolist() == ["push-image"]
    assert final["stage_index"].isna().all()


def test_trace_spans_placed_in_stages() -> None:
    recording = ingest_kaniko_traces([TRACE])
    spans = recording.spans
    unpacks = spans[spans["engine_name"] == "FS Unpacking"]
    snapshots = spans[spans["engine_name"] == "Snapshotting FS"]
    saves = spans[spans["engine_name"] == "Saving stage"]

    assert unpacks["stage_index"].tolist() == [0, 2]
    assert snapshots[["stage_index", "instruction_index"]].values.tolist() == [[0, 0], [2, 0]]
    assert saves["stage_index"].tolist() == [1]
    assert saves["instruction_index"].isna().all()
    stage0 = recording.stages.set_index("stage_index").loc[0]
    assert stage0["unpack_s"] == pytest.approx(0.05)
    assert stage0["push_s"] == pytest.approx(0.219)
    assert stage0["wall_s"] == pytest.approx(0.170)


def test_trace_round_trips_through_parquet(tmp_path: Path) -> None:
    recording = ingest_kaniko_traces([TRACE])
    recording.save(tmp_path)
    loaded = Recording.load(tmp_path)

    assert loaded.instructions["decision"].tolist() == recording.instructions["decision"].tolist()
    assert loaded.spans["engine_name"].fillna("").tolist() == recording.spans["engine_name"].fillna("").tolist()


def test_trace_protobuf_matches_json(tmp_path: Path) -> None:
    json_format = pytest.importorskip("google.protobuf.json_format")
    trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
    message = json_format.ParseDict(json.loads(TRACE.read_text()), trace_service.ExportTraceServiceRequest())
    binary = tmp_path / "trace.pb"
    binary.write_bytes(message.SerializeToString())

    from_json = ingest_kaniko_traces([TRACE])
    from_protobuf = ingest_kaniko_traces([binary])

    assert from_protobuf.instructions.equals(from_json.instructions)
    assert from_protobuf.spans.equals(from_json.spans)


def test_trace_invalid_json_names_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceSpans": [\n  {"resource": }\n]}')

    with pytest.raises(IngestError, match=r"broken.json: invalid OTLP JSON at line 2"):
        read_trace_file(broken)


def test_trace_not_a_request_rejected(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"resourceSpans": {}}')

    with pytest.raises(IngestError, match="not an ExportTraceServiceRequest"):
        read_trace_file(other)


def test_trace_error_status_sets_outcome(tmp_path: Path) -> None:
    document = json.loads(TRACE.read_text())
    root = document["resourceSpans"][1]["scopeSpans"][0]["spans"][-1]
    assert root["name"] == "build"
    root["status"] = {"code": "STATUS_CODE_ERROR", "message": "error building image"}
    failed = tmp_path / "failed.json"
    failed.write_text(json.dumps(document))

    row = ingest_kaniko_traces([failed]).builds.iloc[0]

    assert row["outcome"] == "error"
    assert row["error"] == "error building image"


def test_trace_without_cache_not_probed(tmp_path: Path) -> None:
    document = json.loads(TRACE.read_text())
    for resource_spans in document["resourceSpans"]:
        for span in resource_spans["scopeSpans"][0]["spans"]:
            span["attributes"] = [a for a in span["attributes"] if not a["key"].startswith("kaniko.cache.")]
    uncached = tmp_path / "uncached.json"
    uncached.write_text(json.dumps(document))

    recording = ingest_kaniko_traces([uncached])

    assert recording.builds.iloc[0]["strategy"] == "no-cache"
    assert set(recording.instructions["decision"]) == {"not-probed"}
    assert recording.instructions["cache_key"].isna().all()
    assert recording.instructions["cache_layer_pushed"].isna().all()


def test_trace_log_count_must_match(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="1 logs for 2 traces"):
        ingest_kaniko_traces([TRACE, TRACE], logs=[DATA / "kaniko-classic-cold.color.log"])


OTHER_TRACE_ID = "fedcba9876543210fedcba9876543210"


def _spans(document: dict) -> list[dict]:
    return [
        span
        for resource_spans in document["resourceSpans"]
        for scope_spans in resource_spans["scopeSpans"]
        for span in scope_spans["spans"]
    ]


def _write_trace(path: Path, trace_id: str, *, drop_stage: bool = False) -> Path:
    """Write the fixture trace as trace `trace_id`, optionally without the stage of its first command."""
    document = json.loads(TRACE.read_text())
    for span in _spans(document):
        span["traceId"] = trace_id
    if drop_stage:
        command = next(span for span in _spans(document) if span["name"] == "Command")
        command["attributes"] = [a for a in command["attributes"] if a["key"] != "kaniko.stage"]
    path.write_text(json.dumps(document))
    return path


def test_trace_resent_export_counted_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A receiver's requests file after the exporter sent both requests a second time.
    requests = [json.loads(TRACE.read_text())] * 2
    resent = tmp_path / "traces.otlp.jsonl"
    resent.write_text("\n".join(json.dumps(request) for request in requests) + "\n")
    span_count = len(read_trace_file(TRACE))

    with caplog.at_level("WARNING", logger="cachelab.ingest"):
        recording = ingest_kaniko_traces([resent])
    expected = ingest_kaniko_traces([TRACE])

    pd.testing.assert_frame_equal(recording.instructions, expected.instructions)
    pd.testing.assert_frame_equal(recording.spans, expected.spans)
    duplicates = [record.getMessage() for record in caplog.records if "duplicate spans" in record.message]
    expected_warning = (
        f"{resent}: dropped {span_count} duplicate spans (same trace id and span id), as an exporter "
        "sends them when it repeats an export after a timeout"
    )
    assert duplicates == [expected_warning]


def test_traces_sharing_build_across_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    other = _write_trace(tmp_path / "other.json", OTHER_TRACE_ID)

    with caplog.at_level("WARNING", logger="cachelab.ingest"):
        recording = ingest_kaniko_traces([TRACE, other, TRACE])

    assert recording.builds["build_id"].tolist() == [f"kaniko-{TRACE_ID}", f"kaniko-{OTHER_TRACE_ID}"]
    assert len(recording.instructions) == 10
    assert "3 trace files: dropped" in caplog.text


def test_trace_bad_build_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = _write_trace(tmp_path / "broken.json", OTHER_TRACE_ID, drop_stage=True)

    with caplog.at_level("WARNING", logger="cachelab.ingest"):
        recording = ingest_kaniko_traces([TRACE, broken])

    assert recording.builds["build_id"].tolist() == [f"kaniko-{TRACE_ID}"]
    assert f"skipped build kaniko-{OTHER_TRACE_ID}: Command span" in caplog.text
    assert "has no kaniko.stage attribute" in caplog.text


def test_trace_conflicting_span_skips_build(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    document = json.loads(_write_trace(tmp_path / "other.json", OTHER_TRACE_ID).read_text())
    changed = json.loads(json.dumps(document))
    _spans(changed)[0]["endTimeUnixNano"] = "1796400000950000000"
    conflicting = tmp_path / "conflicting.jsonl"
    conflicting.write_text(json.dumps(document) + "\n" + json.dumps(changed) + "\n")

    with caplog.at_level("WARNING", logger="cachelab.ingest"):
        recording = ingest_kaniko_traces([TRACE, conflicting])

    assert recording.builds["build_id"].tolist() == [f"kaniko-{TRACE_ID}"]
    assert f"skipped build kaniko-{OTHER_TRACE_ID}" in caplog.text
    assert "occurs twice with different names or times" in caplog.text


def test_trace_only_bad_build_raises(tmp_path: Path) -> None:
    broken = _write_trace(tmp_path / "broken.json", OTHER_TRACE_ID, drop_stage=True)

    with pytest.raises(IngestError, match="has no kaniko.stage attribute") as raised:
        ingest_kaniko_traces([broken])
    assert "v1.28.3 or later" in (raised.value.hint or "")


def test_trace_invalid_integer_attribute(tmp_path: Path) -> None:
    document = json.loads(TRACE.read_text())
    command = next(span for span in _spans(document) if span["name"] == "Command")
    for attribute in command["attributes"]:
        if attribute["key"] == "kaniko.stage":
            attribute["value"] = {"stringValue": "first"}
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(document))

    with pytest.raises(IngestError, match="invalid kaniko.stage attribute 'first'"):
        ingest_kaniko_traces([invalid])


def test_trace_shared_build_keeps_first_log(tmp_path: Path) -> None:
    log = DATA / "kaniko-classic-cold.color.log"

    recording = ingest_kaniko_traces([TRACE, TRACE], logs=[log, log])

    assert len(recording.builds) == 1
    assert recording.stages["base"].tolist() == ["registry.test/busybox:1"] * 3


def test_trace_all_builds_bad_raises(tmp_path: Path) -> None:
    first = _write_trace(tmp_path / "first.json", OTHER_TRACE_ID, drop_stage=True)
    second = _write_trace(tmp_path / "second.json", TRACE_ID, drop_stage=True)

    with pytest.raises(IngestError, match="2 trace files: none of its 2 builds can be read. The first: "):
        ingest_kaniko_traces([first, second])
