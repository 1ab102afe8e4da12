"""A build whose cache registry refuses connections: one attempt, then no more requests."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from cachelab.events import BuildFinished
from tests.fixtures.builder import ExampleBuilder
from tests.fixtures.registry import free_port

# three-stage writes 50 MB; 1 MB keeps the same shape and the test fast.
SMALL_THREE_STAGE = {"52428800": "1048576"}
CACHE_PHASES = ("probe-cache", "push-layer", "push-pointer")


def test_refused_cache_registry_contacted_once(
    builder: Callable[..., ExampleBuilder], caplog: pytest.LogCaptureFixture,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    example = builder("three-stage", cache=f"{address}/cache", replace=SMALL_THREE_STAGE)

    with caplog.at_level(logging.WARNING):
        built = example.build("lookahead")

    probes = [span for span in built.spans if span.phase == "probe-cache"]
    pushes = [span for span in built.spans if span.phase in ("push-layer", "push-pointer")]
    errors = [span.attributes.get("error", "") for span in probes]
    assert built.result.image_digest is not None
    assert len(probes) >= 2
    assert len(pushes) >= 1
    assert all(span.attributes["found"] == "false" for span in probes)
    assert f"registry {address} refused the connection" in errors[0]
    assert all(f"not sent: registry {address} was unreachable earlier (connection refused" in text for text in errors[1:])
    assert all(span.attributes.get("failed") == "true" for span in pushes)
    assert all(span.requests == 0 for span in pushes)

    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert [text for text in warnings if "retrying" in text] == []
    assert len([text for text in warnings if address in text]) == 1

    finished = [event for event in built.events if isinstance(event, BuildFinished)]
    assert [event.outcome for event in finished] == ["ok"]


def test_refused_cache_in_recording(
    builder: Callable[..., ExampleBuilder], tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from cachelab.record import Recording

    address = f"127.0.0.1:{free_port()}"
    example = builder("three-stage", cache=f"{address}/cache", replace=SMALL_THREE_STAGE)

    built = example.build("per-stage")
    spans = Recording.from_events(built.events).spans

    cache_spans = spans[spans["phase"].isin(CACHE_PHASES)]
    attributes = [json.loads(text) for text in cache_spans["attributes"]]
    assert len(attributes) == len([span for span in built.spans if span.phase in CACHE_PHASES])
    assert all("error" in item or item.get("failed") == "true" for item in attributes)
