"""Benchmarks of ingesting kaniko traces and logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachelab.ingest.kaniko import ingest_kaniko_logs, ingest_kaniko_traces

DATA = Path(__file__).parent.parent / "ingest" / "data"
# Copies of the constructed 31-span trace, each with its own trace id.
BUILDS = 200


@pytest.fixture(scope="module")
def many_traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = (DATA / "kaniko-classic-cold.otlp.json").read_text()
    original = json.loads(text)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
    path = tmp_path_factory.mktemp("bench") / "traces.otlp.jsonl"
    with open(path, "w") as handle:
        for build in range(BUILDS):
            # Base64 of 16 bytes: 22 characters and "==". The last character carries
            # only two bits, so the build number goes first.
            trace_id = f"{build:04d}" + "A" * 18 + "=="
            handle.write(json.dumps(json.loads(text.replace(original, trace_id))) + "\n")
    return path


@pytest.fixture(scope="module")
def long_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = (DATA / "kaniko-lookahead-warm.text.log").read_text().splitlines()
    path = tmp_path_factory.mktemp("bench") / "long.log"
    # The build pass of 500 stages after one precompute pass.
    build_pass = lines[16:23]
    body = lines[:16] + [
        line.replace("idx: '2'", f"idx: '{stage}'") for stage in range(2, 502) for line in build_pass
    ]
    path.write_text("\n".join(body) + "\n")
    return path


def test_ingest_many_traces(benchmark, many_traces: Path) -> None:
    spans_per_build = len(ingest_kaniko_traces([DATA / "kaniko-classic-cold.otlp.json"]).spans)

    recording = benchmark(ingest_kaniko_traces, [many_traces])

    assert len(recording.builds) == BUILDS
    assert len(recording.spans) == BUILDS * spans_per_build


def test_ingest_long_log(benchmark, long_log: Path) -> None:
    recording = benchmark(ingest_kaniko_logs, [long_log])

    assert len(recording.stages) == 502
    assert (recording.instructions["decision"] == "hit").sum() == 500
