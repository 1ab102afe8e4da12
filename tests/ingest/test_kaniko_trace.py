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
