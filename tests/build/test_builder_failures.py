"""Builder failures: a failing RUN, bad requests, and the cache store after a failure."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cachelab.build.builder import build
from cachelab.build.errors import RunFailed
from cachelab.build.request import BuildRequest, InvalidBuildRequest
from cachelab.cli import main
from cachelab.events import BuildFinished, ListSink, SpanRecorded
from cachelab.oci.layout import LayoutStore
from tests.fixtures.registry import RegistryServer

FAILING = """\
FROM busybox
RUN echo first > /first.txt
RUN echo broken on purpose && exit 3
RUN echo never
"""


def _write(tmp_path: Path, text: str) -> tuple[Path, Path]:
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    return dockerfile, context


def test_failed_run_names_line_and_output(tmp_path: Path, image_store: Path) -> None:
    dockerfile, context = _write(tmp_path, FAILING)
    cache = tmp_path / "layer-cache"
    sink = ListSink()
    request = BuildRequest(dockerfile, context, strategy="lookahead", cache=str(cache), image_store=str(image_store))

    with pytest.raises(RunFailed) as caught:
        build(request, sink=sink, progress=False)

    error = caught.value
    assert error.line == 3
    assert error.exit_code == 3
    assert any("broken on purpose" in line for line in error.output_tail)
    assert str(error).startswith(f"{dockerfile}:3: `RUN ")
    finished = [event for event in sink.events if isinstance(event, BuildFinished)]
    assert [event.outcome for event in finished] == ["error"]


def test_failed_run_leaves_cache_consistent(tmp_path: Path, image_store: Path) -> None:
    dockerfile, context = _write(tmp_path, FAILING)
    cache = tmp_path / "layer-cache"
    request = BuildRequest(dockerfile, context, strategy="per-stage", cache=str(cache), image_store=str(image_store))

    with pytest.raises(RunFailed):
        build(request, progress=False)

    store = LayoutStore(cache)
    assert store.check() == []
    assert main(["store", "check", str(cache)]) == 0
    # The RUN before the failing one was pushed; nothing of the failed one was.
    assert len(store.tags()) == 1

    (dockerfile).write_text(FAILING.replace("exit 3", "true"))
    rebuilt = build(request, progress=False)
    assert [i.decision for i in rebuilt.stages[0].instructions][:2] == ["hit", "miss"]
    assert store.check() == []


def test_work_dir_removed_after_failure(tmp_path: Path, image_store: Path) -> None:
    dockerfile, context = _write(tmp_path, FAILING)
    work = tmp_path / "work"
    work.mkdir()
    request = BuildRequest(dockerfile, context, strategy="no-cache", image_store=str(image_store), work_dir=work)

    with pytest.raises(RunFailed):
        build(request, progress=False)

    # A caller's work directory stays, but the build's own directory inside it is gone.
    assert list(work.iterdir()) == []


def test_unknown_strategy_rejected(tmp_path: Path) -> None:
    dockerfile, context = _write(tmp_path, "FROM busybox\n")

    with pytest.raises(InvalidBuildRequest, match="unknown strategy 'fast'"):
        build(BuildRequest(dockerfile, context, strategy="fast"), progress=False)


def test_missing_dockerfile_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidBuildRequest, match="not found"):
        build(BuildRequest(tmp_path / "Dockerfile", tmp_path), progress=False)


def test_unusable_cache_only_warns(
    tmp_path: Path, image_store: Path, auth_registry: RegistryServer, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No credentials for the registry: every lookup and push is denied.
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    dockerfile, context = _write(tmp_path, "FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n")
    request = BuildRequest(
        dockerfile, context, strategy="per-stage", cache=f"{auth_registry.address}/cache",
        image_store=str(image_store),
    )
    sink = ListSink()

    with caplog.at_level(logging.WARNING, logger="cachelab.build"):
        result = build(request, sink=sink, progress=False)

    # kaniko treats a failed lookup as a miss and a failed push as a warning.
    assert [i.decision for i in result.stages[0].instructions] == ["miss", "not-probed"]
    failed_pushes = [
        event for event in sink.events
        if isinstance(event, SpanRecorded) and event.phase == "push-layer" and event.attributes.get("failed")
    ]
    assert len(failed_pushes) == 2
    warnings = [record.getMessage() for record in caplog.records]
    assert any("failed, going on without it" in message for message in warnings)
    assert any("3 cache operations failed" in message for message in warnings)
