"""Other engines' output in cachelab's four tables.

Each reader turns one engine's output into `cachelab.events` objects and then a
`cachelab.record.Recording`, with `engine` set to `kaniko`, `buildah` or
`buildkit`:

- kaniko OpenTelemetry traces (OTLP/HTTP, JSON or protobuf), optionally paired
  with the log of the same build: `ingest_kaniko_traces`;
- kaniko logs of any version and log format: `ingest_kaniko_logs`;
- kaniko's BENCHMARK_FILE (up to v1.28.2): `ingest_kaniko_benchmarks`;
- BuildKit `--progress=rawjson` output: `ingest_buildkit_progress`;
- real buildah builds run by cachelab: `run_buildah_build`.

`TraceReceiver` collects traces that kaniko sends over OTLP/HTTP.
"""

from __future__ import annotations

from cachelab.ingest.buildah import BuildahSetup, run_buildah_build
from cachelab.ingest.buildkit import ingest_buildkit_progress
from cachelab.ingest.errors import EngineRunError, IngestError
from cachelab.ingest.kaniko import (
    ingest_kaniko_benchmarks,
    ingest_kaniko_logs,
    ingest_kaniko_traces,
)
from cachelab.ingest.receiver import TraceReceiver

__all__ = [
    "BuildahSetup",
    "EngineRunError",
    "IngestError",
    "TraceReceiver",
    "ingest_buildkit_progress",
    "ingest_kaniko_benchmarks",
    "ingest_kaniko_logs",
    "ingest_kaniko_traces",
    "run_buildah_build",
]
