"""The builds column cache_failures: from events, from a real refused registry, and after an upgrade."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cachelab.events import BuildFinished, BuildStarted, Event, SpanRecorded
from cachelab.record import InvalidRecordingError, Recording, schema, storage, synthetic_build
from cachelab.record.cache_failures import (
    describe_failures,
    failures_from_spans,
    is_failed_operation,
)
from tests.fixtures.builder import ExampleBuilder
from tests.fixtures.registry import RegistryServer, free_port

# three-stage writes 50 MB; 1 MB keeps the same shape and the test fast.
SMALL_THREE_STAGE = {"52428800": "1048576"}


def _events(
    build_id: str,
    engine: str,
    spans: list[tuple[str, dict[str, str]]],
    *,
    finished: bool = True,
) -> list[Event]:
    events: list[Event] = [BuildStarted(
        build_id=build_id, run_id="r", engine=engine, engine_version="1", strategy="per-stage",
        profile=None, flags=None, dockerfile_id="d", target=None, started_at=None,
    )]
    for number, (phase, attributes) in enumerate(spans):
        events.append(SpanRecorded(
            build_id=build_id, span_id=f"s{number}", parent_id=None, phase=phase,
            start_s=float(number), end_s=float(number) + 0.5, attributes=attributes,
        ))
    if finished:
        events.append(BuildFinished(build_id=build_id, wall_s=5.0, outcome="ok"))
    return events


def _failures(events: list[Event]) -> object:
    return Recording.from_events(events, environment={}).builds["cache_failures"].iloc[0]


FAILED_SPANS = [
    ("probe-cache", {"key": "k1", "error": "registry refused the connection", "found": "false"}),
    ("probe-cache", {"key": "k2", "found": "false"}),
    ("push-layer", {"key": "k1", "failed": "true"}),
    ("push-pointer", {"key": "k3", "failed": "true"}),
    ("push-layer", {"key": "k4"}),
    # Only cache operations count: an error on another phase is not one.
    ("download", {"error": "x"}),
]


@pytest.mark.parametrize(("phase", "attributes", "failed"), [
    ("probe-cache", {"error": "refused"}, True),
    ("probe-cache", {"error": ""}, False),
    ("probe-cache", {"found": "false"}, False),
    ("push-layer", {"failed": "true"}, True),
    ("push-layer", {"failed": "false"}, False),
    ("push-pointer", {"failed": "true"}, True),
    ("push-image", {"failed": "true"}, False),
    ("execute", {"error": "exit 1"}, False),
])
def test_failed_operation_rule(phase: str, attributes: dict[str, str], failed: bool) -> None:
    assert is_failed_operation(phase, attributes) is failed


def test_cachelab_failures_counted() -> None:
    assert _failures(_events("a", "cachelab", FAILED_SPANS)) == 3


def test_cachelab_without_failures_is_zero() -> None:
    spans = [("probe-cache", {"key": "k", "found": "true"}), ("push-layer", {"key": "k"})]

    assert _failures(_events("a", "cachelab", spans)) == 0
    assert _failures(_events("b", "cachelab", [])) == 0


def test_model_build_is_zero() -> None:
    builds = Recording.from_events(synthetic_build("m"), environment={}).builds

    assert builds["engine"].iloc[0] == "model"
    assert builds["cache_failures"].iloc[0] == 0
    assert builds["cache_failures"].dtype == "Int64"


def test_other_engine_without_failures_is_na() -> None:
    spans = [("probe-cache", {"key": "k"}), ("push-layer", {})]

    assert pd.isna(_failures(_events("a", "kaniko", spans)))


def test_other_engine_with_failures_counted() -> None:
    assert _failures(_events("a", "kaniko", FAILED_SPANS)) == 3


def test_unfinished_build_without_failures_is_na() -> None:
    spans = [("probe-cache", {"key": "k", "found": "false"})]

    assert pd.isna(_failures(_events("a", "cachelab", spans, finished=False)))
    assert _failures(_events("b", "cachelab", FAILED_SPANS, finished=False)) == 3


def test_refused_registry_counted_in_builds(builder: Callable[..., ExampleBuilder]) -> None:
    address = f"127.0.0.1:{free_port()}"
    example = builder("three-stage", cache=f"{address}/cache", replace=SMALL_THREE_STAGE)

    built = example.build("lookahead")
    builds = Recording.from_events(built.events).builds

    marked = [
        span for span in built.spans
        if span.phase in schema.CACHE_OPERATION_PHASES
        and ("error" in span.attributes or span.attributes.get("failed") == "true")
    ]
    assert len(marked) >= 3
    assert builds["outcome"].iloc[0] == "ok"
    assert builds["cache_failures"].iloc[0] == len(marked)


def test_working_registry_counts_zero(builder: Callable[..., ExampleBuilder], registry: RegistryServer) -> None:
    example = builder("three-stage", cache=f"{registry.address}/cache-failures", replace=SMALL_THREE_STAGE)

    cold = Recording.from_events(example.build("lookahead").events).builds
    warm = Recording.from_events(example.build("lookahead").events).builds

    assert cold["cache_failures"].iloc[0] == 0
    assert warm["cache_failures"].iloc[0] == 0
    assert warm["cache_hits"].iloc[0] > 0


def _save_as_version(recording: Recording, directory: Path, version: int) -> None:
    """Save `recording` as schema `version` wrote it, without the columns added later."""
    recording.save(directory)
    for table in schema.TABLES:
        path = directory / f"{table}.parquet"
        arrow_table = pq.read_table(path)
        metadata = {**arrow_table.schema.metadata, storage.VERSION_KEY: str(version).encode()}
        dropped = [
            column
            for added in range(version + 1, schema.SCHEMA_VERSION + 1)
            for column in schema.ADDED_IN[added].get(table, ())
        ]
        arrow_table = arrow_table.drop_columns(dropped)
        pq.write_table(arrow_table.replace_schema_metadata(metadata), path)


def test_version_5_gains_counts(tmp_path: Path) -> None:
    events = (
        _events("fails", "cachelab", FAILED_SPANS)
        + _events("clean", "cachelab", [("probe-cache", {"key": "k", "found": "true"})])
        + _events("kaniko", "kaniko", [("probe-cache", {})])
        + synthetic_build("model")
    )
    recording = Recording.from_events(events, environment={})
    _save_as_version(recording, tmp_path, 5)

    loaded = Recording.load(tmp_path)

    pd.testing.assert_frame_equal(loaded.builds, recording.builds)
    counts = dict(zip(loaded.builds["build_id"], loaded.builds["cache_failures"]))
    assert counts["fails"] == 3
    assert counts["clean"] == 0
    assert pd.isna(counts["kaniko"])
    assert counts["model"] == 0


def test_version_2_cachelab_build_is_na(tmp_path: Path) -> None:
    # Before version 3 no span attribute was saved, so a failure cannot be seen.
    events = _events("old", "cachelab", FAILED_SPANS) + synthetic_build("model")
    _save_as_version(Recording.from_events(events, environment={}), tmp_path, 2)

    loaded = Recording.load(tmp_path)

    counts = dict(zip(loaded.builds["build_id"], loaded.builds["cache_failures"]))
    assert pd.isna(counts["old"])
    assert counts["model"] == 0


def test_refused_registry_counted_after_upgrade(
    builder: Callable[..., ExampleBuilder], tmp_path: Path,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    example = builder("three-stage", cache=f"{address}/cache", replace=SMALL_THREE_STAGE)
    recording = Recording.from_events(example.build("per-stage").events)
    _save_as_version(recording, tmp_path / "v5", 5)

    loaded = Recording.load(tmp_path / "v5")

    assert loaded.builds["cache_failures"].iloc[0] > 0
    assert loaded.builds["cache_failures"].iloc[0] == recording.builds["cache_failures"].iloc[0]


def test_invalid_attributes_json_is_na(caplog: pytest.LogCaptureFixture) -> None:
    builds = pd.DataFrame({"build_id": ["a"], "engine": ["cachelab"], "outcome": ["ok"]})
    spans = pd.DataFrame({
        "build_id": ["a", "a"],
        "phase": ["probe-cache", "push-layer"],
        "attributes": ['{"error": "refused"}', "{not json"],
    })

    with caplog.at_level(logging.WARNING):
        counts = failures_from_spans(builds, spans)

    assert pd.isna(counts.iloc[0])
    assert "invalid JSON in the attributes of a push-layer span of build a" in caplog.text


def test_describe_failures_names_builds() -> None:
    events = _events("fails", "cachelab", FAILED_SPANS) + _events("clean", "cachelab", [])
    builds = Recording.from_events(events, environment={}).builds

    assert describe_failures(builds) == "3 cache operations failed in 1 build: fails (3)"
    assert describe_failures(builds[builds["build_id"] == "clean"]) is None


def test_describe_failures_lists_five() -> None:
    events = [event for number in range(7) for event in _events(f"b{number}", "cachelab", FAILED_SPANS[:1])]
    builds = Recording.from_events(events, environment={}).builds

    line = describe_failures(builds)

    assert line is not None
    assert line.startswith("7 cache operations failed in 7 builds: b0 (1), ")
    assert line.endswith("b4 (1), and 2 more")


def test_attributes_json_round_trip() -> None:
    # The upgrade reads the attributes column the way `tables_from_events` writes it.
    spans = Recording.from_events(_events("a", "cachelab", FAILED_SPANS), environment={}).spans

    first = json.loads(spans["attributes"].iloc[0])

    assert first["error"] == "registry refused the connection"


def test_negative_count_rejected(tmp_path: Path) -> None:
    recording = Recording.from_events(_events("a", "cachelab", FAILED_SPANS), environment={})
    recording.builds["cache_failures"] = pd.array([-1], dtype="Int64")
    recording.save(tmp_path)

    with pytest.raises(InvalidRecordingError, match="column cache_failures is negative in row 0"):
        Recording.load(tmp_path)
