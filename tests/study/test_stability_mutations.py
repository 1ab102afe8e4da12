"""Rebuild mutations: moving a base tag, a nondeterministic RUN, the cache TTL, and their TOML form."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cachelab.oci.busybox import DEFAULT_BUSYBOX
from cachelab.oci.layout import LayoutStore
from cachelab.study import (
    MakeRunNondeterministic,
    MoveBaseTag,
    MutationError,
    Scenario,
    SetCacheTTL,
    Step,
    Workspace,
    load_scenarios,
)
from cachelab.study.runner import BuildSettings, ScenarioRun, run_scenario
from cachelab.study.workspace import BuildInput

BUSYBOX_TAG = "docker.io/library/busybox:latest"


def test_nondeterministic_run_appends_random_output(workspace: Workspace) -> None:
    MakeRunNondeterministic(line=3, path="/stamp").apply(workspace)

    lines = workspace.dockerfile.read_text().splitlines()
    assert lines[2] == "RUN cat /src/app.txt && head -c 16 /dev/urandom | od -A n -t x1 > /stamp"
    assert lines[1] == "COPY src /src"


def test_nondeterministic_run_rejects_other_lines(workspace: Workspace) -> None:
    with pytest.raises(MutationError, match="not a single-line RUN"):
        MakeRunNondeterministic(line=2).apply(workspace)
    with pytest.raises(MutationError, match="has 3 lines"):
        MakeRunNondeterministic(line=9).apply(workspace)


def test_nondeterministic_run_rejects_continued_run(workspace: Workspace) -> None:
    workspace.dockerfile.write_text("FROM busybox\nRUN echo a \\\n  && echo b\n")
    with pytest.raises(MutationError, match="not a single-line RUN"):
        MakeRunNondeterministic(line=2).apply(workspace)


def test_cache_ttl_sets_and_restores(workspace: Workspace) -> None:
    SetCacheTTL(0).apply(workspace)
    assert workspace.cache_ttl == timedelta(0)
    SetCacheTTL().apply(workspace)
    assert workspace.cache_ttl is None


def test_cache_ttl_rejects_negative() -> None:
    with pytest.raises(MutationError, match="negative"):
        SetCacheTTL(-1)


def test_move_base_tag_rejects_digest(workspace: Workspace) -> None:
    with pytest.raises(MutationError, match="movable tag"):
        MoveBaseTag("busybox@sha256:" + "0" * 64).apply(workspace)


def test_move_base_tag_rejects_unknown_target() -> None:
    with pytest.raises(MutationError, match="invalid where"):
        MoveBaseTag("busybox", where="elsewhere")


def test_move_base_tag_writes_private_store(workspace: Workspace, tmp_path: Path) -> None:
    if not Path(DEFAULT_BUSYBOX).is_file():
        pytest.skip(f"needs Debian's busybox-static at {DEFAULT_BUSYBOX}")
    shared = tmp_path / "shared-images"
    workspace.image_store = shared

    MoveBaseTag("busybox", content="one\n").apply(workspace)
    private = LayoutStore(workspace.root / "images")
    first = private.find(BUSYBOX_TAG)
    MoveBaseTag("busybox", content="two\n").apply(workspace)
    second = private.find(BUSYBOX_TAG)

    assert workspace.image_store == workspace.root / "images"
    assert not shared.exists(), "the shared store must stay untouched"
    assert first is not None and second is not None
    assert first["digest"] != second["digest"]
    assert private.tags() == [BUSYBOX_TAG]


def test_scenario_file_accepts_rebuild_mutations(tmp_path: Path) -> None:
    path = tmp_path / "cachelab-scenarios.toml"
    path.write_text(
        "[[scenarios.flaky.steps]]\n"
        'label = "cold"\n'
        "[[scenarios.flaky.steps]]\n"
        'mutations = [{ op = "nondeterministic-run", line = 3 }, { op = "move-base-tag", reference = "busybox" }]\n'
        "[[scenarios.flaky.steps]]\n"
        'mutations = [{ op = "cache-ttl", seconds = 0 }]\n'
    )
    scenario = load_scenarios(path)["flaky"]

    assert scenario.steps[1].mutations == (MakeRunNondeterministic(line=3), MoveBaseTag("busybox"))
    assert scenario.steps[2].mutations == (SetCacheTTL(0),)


def test_runner_passes_ttl_and_private_store(build_input: BuildInput, tmp_path: Path) -> None:
    requests: list[Any] = []

    def capture(request: Any, **options: Any) -> None:
        requests.append(request)

    scenario = Scenario("ttl", (Step(label="cold"), Step((SetCacheTTL(30),))))
    settings = BuildSettings(image_store=str(tmp_path / "shared"), builder=capture)
    run = ScenarioRun(build_input, scenario, "graph", 0, "run")
    run_scenario(run, settings, sink=_NoSink(), work_root=tmp_path / "work")

    assert requests[0].options is None
    assert requests[0].image_store == str(tmp_path / "shared")
    assert requests[1].options.cache_ttl == timedelta(seconds=30)
    assert requests[1].options.cache is True
    assert requests[1].profile == "kaniko-lookahead"
    assert requests[1].strategy == "graph"


class _NoSink:
    def emit(self, event: object) -> None:
        return None
