"""Run one scenario under one strategy: a fresh work copy and cache, then each step's build."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cachelab.build.errors import BuildError
from cachelab.dockerfile.errors import DockerfileError
from cachelab.errors import CachelabError
from cachelab.events import BuildFinished, BuildStarted, Event, EventSink
from cachelab.keys.errors import KeyEngineError
from cachelab.oci.errors import OCIError
from cachelab.plan.errors import PlanError
from cachelab.study.errors import StudyError
from cachelab.study.mutations import apply_mutation
from cachelab.study.scenario import Scenario
from cachelab.study.workspace import BuildInput, Workspace

logger = logging.getLogger(__name__)

# Errors a build of a valid study can raise because of its Dockerfile, context or
# services. A study records them as failed builds; other exceptions are bugs and
# propagate.
BUILD_FAILURES: tuple[type[Exception], ...] = (
    BuildError,
    DockerfileError,
    KeyEngineError,
    OCIError,
    PlanError,
    CachelabError,
)

DEFAULT_STRATEGIES = ("per-stage", "lookahead")

# `build(request, *, sink, progress)` of `cachelab.build.builder`, or a wrapper with
# that signature.
BuildFunction = Callable[..., Any]


@dataclass(frozen=True)
class ScenarioRun:
    """One scenario run: which input, scenario, strategy and repeat, in which run."""

    source: BuildInput
    scenario: Scenario
    strategy: str
    repeat: int
    run_id: str


@dataclass(frozen=True)
class BuildSettings:
    """Settings shared by every build of a comparison or study."""

    image_store: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    targets: tuple[str, ...] = ()
    builder: BuildFunction | None = None
    secrets: tuple[tuple[str, Path], ...] = ()  # secret id -> file, for RUN --mount=type=secret


class _TrackingSink:
    """Forward events and remember which builds started but have not finished."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self.open_builds: list[str] = []

    def emit(self, event: Event) -> None:
        if isinstance(event, BuildStarted):
            self.open_builds.append(event.build_id)
        elif isinstance(event, BuildFinished) and event.build_id in self.open_builds:
            self.open_builds.remove(event.build_id)
        self.sink.emit(event)


def run_scenario(
    run: ScenarioRun,
    settings: BuildSettings,
    *,
    sink: EventSink,
    work_root: Path,
    on_build: Callable[[ScenarioRun, int, float], None] | None = None,
) -> None:
    """Build every step of `run.scenario` in a new workspace under `work_root`.

    The workspace (context copy and layer cache) is deleted afterwards. Bases
    come from `settings.image_store`, which all runs share. When a build raises,
    a `BuildFinished` with outcome "error" is emitted for it unless the builder
    emitted one, the later steps are not built and the error propagates.
    `on_build(run, step, seconds)` is called after each successful build.
    """
    from cachelab.build.request import BuildRequest

    builder = settings.builder or _default_builder()
    root = work_root / f"{run.strategy}-repeat{run.repeat}"
    workspace = Workspace.create(
        run.source, root, build_args=dict(settings.build_args), targets=settings.targets,
        image_store=settings.image_store,
    )
    tracking = _TrackingSink(sink)
    try:
        for step_index, step in enumerate(run.scenario.steps):
            for mutation in step.mutations:
                logger.info("step %d of %s: %s", step_index, run.scenario.name, mutation.describe())
                apply_mutation(mutation, workspace)
            request = BuildRequest(
                dockerfile=workspace.dockerfile,
                context=workspace.context,
                strategy=run.strategy,
                build_args=dict(workspace.build_args),
                targets=workspace.targets,
                cache=workspace.cache_ref,
                image_store=str(workspace.image_store) if workspace.image_store is not None else None,
                dockerfile_id=run.source.dockerfile_id,
                run_id=run.run_id,
                scenario=run.scenario.name,
                step=step_index,
                repeat=run.repeat,
                secrets=dict(settings.secrets),
            )
            if workspace.cache_ttl is not None:
                options = request.kaniko_options().with_changes(cache_ttl=workspace.cache_ttl)
                request = dataclasses.replace(request, options=options, profile=request.profile_name)
            started = time.perf_counter()
            try:
                builder(request, sink=tracking, progress=False)
            except BUILD_FAILURES as exc:
                _finish_open_builds(tracking, time.perf_counter() - started, exc)
                raise
            if on_build is not None:
                on_build(run, step_index, time.perf_counter() - started)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _finish_open_builds(tracking: _TrackingSink, seconds: float, exc: Exception) -> None:
    # The wall time is that of the whole build() call, measured here, because the
    # builder stopped before it could report its own.
    for build_id in list(tracking.open_builds):
        tracking.emit(BuildFinished(build_id=build_id, wall_s=seconds, outcome="error", error=str(exc)))


def _default_builder() -> BuildFunction:
    from cachelab.build.builder import build

    return build


def check_strategies(strategies: Sequence[str]) -> list[str]:
    """Return `strategies` without repeats, or raise `StudyError` for an unknown one."""
    from cachelab.build.request import STRATEGIES

    chosen = list(dict.fromkeys(strategies))
    unknown = [name for name in chosen if name not in STRATEGIES]
    if not chosen or unknown:
        raise StudyError(
            f"unknown strategies: {', '.join(unknown)}" if unknown else "no strategy given",
            hint=f"Choose from: {', '.join(STRATEGIES)}.",
        )
    return chosen
