"""Early extraction of the next stage's base: same spans and bytes, handed over or dropped."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import cachelab.oci.extract
from cachelab.build.builder import build
from cachelab.build.request import BuildRequest
from cachelab.events import InstructionRecorded, ListSink
from tests.fixtures.builder import Built, ExampleBuilder

SMALL_THREE_STAGE = {"52428800": "1048576"}

MakeBuilder = Callable[..., ExampleBuilder]


def _spans(built: Built, phase: str, stage_index: int) -> list[dict[str, str]]:
    by_id = {span.span_id: span for span in built.spans}
    found = []
    for span in built.spans:
        parent = by_id.get(span.parent_id) if span.parent_id else None
        if span.phase == phase and parent is not None and parent.stage_index == stage_index:
            found.append({**span.attributes, "bytes": str(span.bytes)})
    return found


def test_later_bases_extracted_early(builder: MakeBuilder) -> None:
    example = builder("three-stage", replace=SMALL_THREE_STAGE)

    built = example.build("no-cache")

    first = _spans(built, "unpack", 0)
    assert len(first) == 1
    assert "prefetched" not in first[0]
    for stage_index in (1, 2):
        unpacks = _spans(built, "unpack", stage_index)
        downloads = _spans(built, "download", stage_index)
        assert [span["prefetched"] for span in unpacks + downloads] == ["true", "true"]
        # The same layer and the same bytes as the stage that extracted it itself.
        assert unpacks[0]["bytes"] == first[0]["bytes"]
        assert unpacks[0]["digest"] == first[0]["digest"]
        assert downloads[0]["bytes"] == _spans(built, "download", 0)[0]["bytes"]
    assert len(built.layer_digests) == 3


def test_no_early_start_after_hits(builder: MakeBuilder, cache_location: str) -> None:
    example = builder("three-stage", cache=cache_location, replace=SMALL_THREE_STAGE)
    example.build("per-stage")

    warm = example.build("per-stage")

    assert warm.decisions(0) == ["hit"]
    for stage_index in (0, 1, 2):
        for span in _spans(warm, "unpack", stage_index) + _spans(warm, "download", stage_index):
            assert "prefetched" not in span


def test_failed_early_extraction_falls_back(builder: MakeBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    example = builder("three-stage", replace=SMALL_THREE_STAGE)
    real_extract = cachelab.oci.extract.extract_layer
    calls: list[str] = []

    def fail_off_main_thread(*args: object, **kwargs: object) -> object:
        import threading

        if threading.current_thread() is not threading.main_thread():
            calls.append("thread")
            raise OSError("disk full")
        calls.append("main")
        return real_extract(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cachelab.oci.extract, "extract_layer", fail_off_main_thread)

    built = example.build("no-cache")

    assert calls.count("thread") == 2
    assert calls.count("main") == 3
    for stage_index in (1, 2):
        unpacks = _spans(built, "unpack", stage_index)
        assert len(unpacks) == 1
        assert "prefetched" not in unpacks[0]
        assert unpacks[0]["bytes"] == _spans(built, "unpack", 0)[0]["bytes"]
        failed = [span for span in _spans(built, "download", stage_index) if span.get("failed") == "true"]
        assert len(failed) == 1
        assert failed[0]["bytes"] == "None"


def test_no_early_start_for_stage_that_may_hit(
    image_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stage 0 misses on the rebuild (a new STAMP), but the final stage reads only
    # /b, which is unchanged, so all its instructions hit and its base stays packed.
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM busybox AS first\nARG STAMP\nRUN echo $STAMP > /a && echo fixed > /b\n"
        "FROM busybox\nCOPY --from=first /b /b\nRUN cat /b\n"
    )

    def request(stamp: str) -> BuildRequest:
        return BuildRequest(dockerfile, context, strategy="per-stage", build_args={"STAMP": stamp},
                            cache=f"oci:{tmp_path / 'cache'}:cache", image_store=str(image_store))

    build(request("1"), progress=False)
    real_extract = cachelab.oci.extract.extract_layer
    threads: list[str] = []

    def count_off_main_thread(*args: object, **kwargs: object) -> object:
        if threading.current_thread() is not threading.main_thread():
            threads.append(threading.current_thread().name)
        return real_extract(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cachelab.oci.extract, "extract_layer", count_off_main_thread)
    sink = ListSink()

    build(request("2"), sink=sink, progress=False)

    decisions = [(event.stage_index, event.decision) for event in sink.events if isinstance(event, InstructionRecorded)]
    assert (0, "miss") in decisions
    assert [decision for stage, decision in decisions if stage == 1] == ["hit", "hit"]
    assert threads == []
