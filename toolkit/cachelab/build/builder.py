"""`build()`: build an OCI image from a Dockerfile with kaniko's cache decisions.

The planner decides everything (keys, hits, misses, unpacking, pushes,
elimination); this module wires it to the stores and runs the stages it keeps:

1. parse the Dockerfile and pick the options of the strategy or profile;
2. open the cache store and the base-image source (local image store first);
3. `Planner.precompute()` and `eliminate()`, then for each stage of
   `build_order()`: `plan_stage`, execute its decisions (`StageRunner`),
   `stage_done`;
4. write the final stage's image to the destination, or only digest it.

Every step is an event on the sink: BuildStarted, spans, one StageRecorded per
stage as written, one InstructionRecorded per instruction, BuildFinished.
A failed or interrupted build records only the stages that had started.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import platform as host_platform
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from cachelab import __version__
from cachelab.build.base_platform import check_base_platform, stages_running_commands
from cachelab.build.copy_from import copy_from_lines
from cachelab.build.errors import add_dockerfile_path, failure_message
from cachelab.build.external import ExternalImages
from cachelab.build.images import BuildImages
from cachelab.build.layer_io import LayerMover
from cachelab.build.output_image import content_digest, write_output
from cachelab.build.progress import Progress, progress_wanted
from cachelab.build.recording import record_stage
from cachelab.build.request import BuildRequest, BuildResult, InvalidBuildRequest
from cachelab.build.rootfs import BuildWorkspace
from cachelab.build.stage_image import StageImage
from cachelab.build.stage_runner import BuildSession, StageRunner
from cachelab.build.stores import (
    cache_store_of,
    default_cache_store,
    default_image_store,
    open_cache,
    run_mount_cache,
)
from cachelab.build.timing import Position, TimedCache, TimedKeyer
from cachelab.dockerfile.parse import load_dockerfile
from cachelab.events import BuildFinished, BuildStarted, EventSink, NullSink, SpanClock
from cachelab.keys.buildargs import StageEnv
from cachelab.keys.dockerignore import DockerIgnore
from cachelab.oci.layout import check_layout_destination, check_new_layout_parent
from cachelab.oci.transfer import TransferStats
from cachelab.plan.decisions import StagePlan
from cachelab.plan.planner import Planner
from cachelab.plan.render import plan_text
from cachelab.plan.stages import PlanStage

logger = logging.getLogger(__name__)

ENGINE = "cachelab"


def build(
    request: BuildRequest,
    *,
    sink: EventSink | None = None,
    progress: bool | None = None,
    images: BuildImages | None = None,
) -> BuildResult:
    """Build `request.dockerfile` and return the image digest, wall time and every stage's plan.

    `images` replaces the base-image source the request describes (tests serve
    recorded bases through it); the caller then closes it. Raises the layer
    errors (`DockerfileError`, `PlanError`, `OCIError`, `BuildError`) unchanged;
    BuildFinished records the failure first.
    """
    sink = sink if sink is not None else NullSink()
    _check_paths(request)
    options = request.kaniko_options()
    build_id = uuid.uuid4().hex[:16]
    clock = SpanClock(build_id, sink)
    logger.info("build %s of %s: strategy %s, cache %s", build_id, request.dockerfile, request.strategy,
                (request.cache or "default store") if options.cache else "off")
    sink.emit(_started_event(request, build_id, options.render()))
    started = time.perf_counter()
    show = Progress(progress if progress is not None else progress_wanted())
    run = _Build(request, build_id, clock, sink, show)
    try:
        with clock.span("build"):
            result = run.run(images)
        result.wall_s = time.perf_counter() - started
    except BaseException as error:
        add_dockerfile_path(error, request.dockerfile)
        message = failure_message(error)
        logger.info("build %s failed: %s", build_id, message)
        run.record_started_stages()
        sink.emit(BuildFinished(build_id, time.perf_counter() - started, "error", error=message))
        raise
    finally:
        run.remove_workspace()
    logger.info("build %s finished in %.2fs: image %s", build_id, result.wall_s, result.image_digest)
    sink.emit(BuildFinished(build_id, result.wall_s, "ok", image_digest=result.image_digest,
                            image_content_digest=content_digest(result.image)))
    show.build_finished(result.image_digest, result.wall_s)
    return result


def render_plan(request: BuildRequest) -> str:
    """Return kaniko's dry-run plan of `request` after precompute and elimination, building nothing.

    When kaniko's plan has no cache lines, cachelab's decisions follow as `#` lines.
    """
    _check_paths(request)
    options = request.kaniko_options()
    stats = TransferStats()
    images = BuildImages(request.image_store or str(default_image_store()),
                         insecure=request.insecure_registries, stats=stats)
    with contextlib.ExitStack() as closing:
        closing.callback(images.close)
        cache = open_cache(request.cache, options, insecure=request.insecure_registries, stats=stats,
                           closing=closing)
        return plan_text(_planner(request, images, cache))


def _planner(request: BuildRequest, images: BuildImages, cache: object | None) -> Planner:
    return Planner(
        load_dockerfile(request.dockerfile), options=request.kaniko_options(), context_dir=request.context,
        cache=cache, images=images, build_args=dict(request.build_args),  # type: ignore[arg-type]
        targets=request.targets, platform=request.platform, dockerfile_path=request.dockerfile,
        # The default store is a cache too, so its UPLOAD lines name its directory.
        cache_repo=request.cache or str(default_cache_store()), strategy=request.strategy,
    )


def _check_base_platforms(planner: Planner, session: BuildSession) -> None:
    """Fail before any stage is built when a RUN would execute a base image of another platform."""
    running = stages_running_commands(planner.stages)
    from_instructions = {stage.index: stage.from_instruction for stage in planner.dockerfile.stages}
    for stage in planner.stages:
        if stage.base_ref is None:
            continue
        base = session.images.base(stage.base_ref, platform=session.platform)
        # A squashed chain keeps the child's index; its FROM with the image is the first stage's.
        first = stage.absorbed[0] if stage.absorbed else stage.index
        check_base_platform(
            stage, base.image.config, requested=session.platform, runs_commands=stage.index in running,
            from_instruction=from_instructions.get(first), dockerfile=session.dockerfile,
        )


def _check_paths(request: BuildRequest) -> None:
    if not Path(request.dockerfile).is_file():
        raise InvalidBuildRequest(f"Dockerfile {request.dockerfile} not found",
                                  hint="Pass the path of an existing Dockerfile.")
    if not Path(request.context).is_dir():
        raise InvalidBuildRequest(f"build context {request.context} is not a directory",
                                  hint="Pass --context with an existing directory.")
    for secret_id, path in request.secrets.items():
        if not Path(path).is_file():
            raise InvalidBuildRequest(f"secret {secret_id!r}: file {path} not found",
                                      hint="Pass --secret id=ID,src=PATH with an existing file.")
    # Checked before building, because the image store is written first and the destination last.
    if request.image_store is not None:
        check_new_layout_parent(request.image_store)
    if request.destination is not None:
        check_layout_destination(request.destination)


def _started_event(request: BuildRequest, build_id: str, flags: str) -> BuildStarted:
    return BuildStarted(
        build_id=build_id,
        run_id=request.run_id or build_id,
        engine=ENGINE,
        engine_version=__version__,
        strategy=request.strategy,
        profile=request.profile_name if request.options is None else request.profile,
        flags=flags,
        dockerfile_id=request.dockerfile_id or _dockerfile_id(request.dockerfile),
        target=",".join(request.targets) or None,
        started_at=datetime.now(UTC),
        scenario=request.scenario,
        step=request.step,
        repeat=request.repeat,
        host=host_platform.node(),
        cpu_count=os.cpu_count(),
        python_version=sys.version.split()[0],
    )


def _dockerfile_id(path: Path) -> str:
    with open(path, "rb") as stream:
        return "sha256:" + hashlib.sha256(stream.read()).hexdigest()


class _Build:
    """One run of `build()`: the planner, the stores and the stages' images."""

    def __init__(self, request: BuildRequest, build_id: str, clock: SpanClock, sink: EventSink,
                 progress: Progress) -> None:
        self.request = request
        self.build_id = build_id
        self.clock = clock
        self.sink = sink
        self.progress = progress
        self.options = request.kaniko_options()
        self.stats = TransferStats()
        # Plans of the stages that started building, until the stages are recorded.
        self.started_plans: dict[int, StagePlan] = {}
        self.workspace: BuildWorkspace | None = None

    def run(self, given_images: BuildImages | None) -> BuildResult:
        request = self.request
        with contextlib.ExitStack() as closing:
            images = given_images
            if images is None:
                store = request.image_store or str(default_image_store())
                images = BuildImages(store, insecure=request.insecure_registries, stats=self.stats)
                closing.callback(images.close)
            workspace = BuildWorkspace.create(request.work_dir, cache_dir=run_mount_cache())
            self.workspace = workspace
            position = Position()
            cache = open_cache(request.cache, self.options, insecure=request.insecure_registries,
                               stats=self.stats, closing=closing)
            timed_cache = TimedCache(cache, self.clock, position, self.stats) if cache is not None else None
            planner = _planner(request, images, timed_cache)
            # A build without the cache never reads --cache-repo, so it must not fail on it.
            store_name, store_kind = cache_store_of(request.cache) if cache is not None else ("", "")
            keyer = TimedKeyer(planner.keyer, self.clock, planner.stages, position)
            planner.keyer = keyer  # type: ignore[assignment]
            session = BuildSession(
                options=self.options, workspace=workspace, clock=self.clock,
                mover=LayerMover(self.clock, workspace.layers_dir, self.stats), cache=timed_cache, images=images,
                context_dir=Path(request.context).resolve(),
                dockerignore=DockerIgnore.find(request.dockerfile, request.context),
                progress=self.progress, platform=request.platform, dockerfile=str(request.dockerfile),
                cache_store=store_name, cache_store_kind=store_kind,
                stage_names={stage.index: stage.name for stage in planner.dockerfile.stages},
                secrets={secret_id: str(Path(path).resolve()) for secret_id, path in request.secrets.items()},
                copy_from_lines=copy_from_lines(planner.stages),
            )
            from cachelab.build.prefetch import BasePrefetcher

            session.prefetcher = BasePrefetcher(
                images, workspace.base / "prefetch", self.clock, cache=self.options.cache,
                platform=request.platform,
            )
            # Closed when `run` returns, before `build()` deletes the work directory, so no thread writes into a removed tree.
            closing.callback(session.prefetcher.close)
            return self._run_stages(planner, keyer, session)

    def _run_stages(self, planner: Planner, keyer: TimedKeyer, session: BuildSession) -> BuildResult:
        planner.precompute()
        planner.eliminate()
        _check_base_platforms(planner, session)
        keyer.index_stages(planner.stages)
        stages = {stage.index: stage for stage in planner.stages}
        for stage in planner.stages:
            if stage.base_index is not None:
                session.root_consumers[stage.base_index] = session.root_consumers.get(stage.base_index, 0) + 1
        external = ExternalImages(session)
        environments: dict[int, StageEnv] = {}
        built: dict[int, StagePlan] = {}
        final_image: StageImage | None = None

        order = planner.build_order()
        if session.prefetcher is not None:
            session.prefetcher.set_build_order([stages[index] for index in order])
        for index in order:
            stage = stages[index]
            external.prepare(stage)
            with self.clock.span("stage", stage_index=index) as span:
                started = self.clock.now()
                plan = planner.plan_stage(index, external.stage_files)
                self.started_plans[index] = plan
                span.attributes["action"] = plan.action
                environment = self._environment(planner, stage, environments)
                self.progress.stage_started(plan)
                # Only the last stage (the result) and FROM bases have images a later step reads.
                keep_layers = index == order[-1] or plan.is_final or plan.is_push or plan.save_stage
                runner = StageRunner(session, stage, plan, environment, keep_layers=keep_layers)
                image = runner.run()
                environments[index] = runner.env
                session.stage_images[index] = image
                planner.stage_done(index, plan.final_key)
                built[index] = plan
                self._release_root(session, index, stage)
                if stage.base_index is not None:
                    self._release_root(session, stage.base_index, stages[stage.base_index])
                self.progress.stage_finished(plan, self.clock.now() - started)
            # kaniko builds the target stage last, so its image is the result.
            final_image = image
            logger.info("stage %d built: %d hits, %d misses", index, plan.cache_hits, plan.cache_misses)

        plans = self._stage_plans(planner, built)
        self.started_plans = {}
        for plan in plans:
            if not plan.built:
                logger.info("stage %d %s, not built", plan.index, plan.action)
                self.progress.stage_skipped(plan)
            record_stage(self.sink, self.build_id, plan, unpacked=plan.should_unpack if plan.built else False,
                         context_dir=str(Path(self.request.context).resolve()))
        if final_image is None:
            raise InvalidBuildRequest("the plan builds no stage", hint="Check --target and the Dockerfile's stages.")
        if session.cache is not None and session.cache.failures > 1:
            logger.warning("%d cache operations failed; the first is logged above", session.cache.failures)
        output = write_output(final_image, self.request.destination, clock=self.clock,
                              resolver=session.images.resolver, stats=self.stats)
        return BuildResult(self.build_id, output.digest, 0.0, plans, output)

    def _environment(self, planner: Planner, stage: PlanStage, environments: dict[int, StageEnv]) -> StageEnv:
        """Start the stage's ENV and ARG state: its parent's at its end, or its remote base's."""
        if stage.base_index is not None and stage.base_index in environments:
            return environments[stage.base_index].copy()
        return planner.keyer.stage_environment(planner.bases.config_env(stage))  # type: ignore[no-any-return]

    def _release_root(self, session: BuildSession, index: int, stage: PlanStage) -> None:
        # kaniko wipes a stage's root after saving its files. A root that a later
        # FROM child may take over is kept until every child is built.
        if stage.is_final or session.root_consumers.get(index, 0) > 0:
            return
        image = session.stage_images[index]
        if image.root is not None:
            with self.clock.span("wipe-root") as span:
                span.attributes["root_stage_index"] = str(index)
                session.workspace.wipe_stage(index)
            image.root = None
            image.extracted = 0

    def remove_workspace(self) -> None:
        """Delete the work directory: stage roots, saved files and layer files.

        `build()` calls this after it took the wall time and closed the build
        span, so neither contains the deletion, and the log line is its only
        timing. kaniko deletes each stage's root between stages (see
        `BuildWorkspace.wipe_stage`), but never the final one, because its
        container is thrown away. Deleting costs one unlink per file, so
        counting it would charge a strategy for the disk's speed at freeing
        blocks, which the cost model does not charge either.
        """
        if self.workspace is None:
            return
        started = time.perf_counter()
        self.workspace.cleanup()
        logger.info("build %s: removed work directory %s in %.2fs, after the build's wall time",
                    self.build_id, self.workspace.base, time.perf_counter() - started)
        self.workspace = None

    def record_started_stages(self) -> None:
        """Record the stages of a failed or interrupted build that had started; the last one may have stopped part-way."""
        context_dir = str(Path(self.request.context).resolve())
        for plan in self.started_plans.values():
            record_stage(self.sink, self.build_id, plan, unpacked=plan.should_unpack, context_dir=context_dir)
        self.started_plans = {}

    def _stage_plans(self, planner: Planner, built: dict[int, StagePlan]) -> list[StagePlan]:
        plans = []
        for index in range(len(planner.dockerfile.stages)):
            plans.append(built[index] if index in built else planner.dropped_plan(index))
        return plans
