"""Early extraction of the next stage's base: same spans and bytes, handed over or dropped."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import cachelab.oci.extract
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
