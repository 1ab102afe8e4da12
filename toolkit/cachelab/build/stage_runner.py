"""Execute the planner's decisions for one stage.

Per stage: start from the base (a remote image's layers, a parent stage's image,
or scratch); unpack it only when the plan says `should_unpack`; then per
instruction take the cached layer of a hit, or execute the instruction,
snapshot it, compress the layer and push it and its pointer when the plan says
so. A hit's layer is extracted onto the root only when a later instruction or
the saved-files step reads the filesystem. Afterwards the files later stages
copy are saved into `deps/<index>`.

Layers follow kaniko: with `--cache` every executed instruction except
MAINTAINER appends a layer, an empty one for metadata; without it only RUN,
COPY, ADD and a WORKDIR other than `/` do, and the rest add an empty history
entry.

The execution modules (RUN sandbox, mounts, COPY, snapshots, layer writing) are
imported where they are first used, so a build whose instructions all hit never
loads them.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from cachelab.build.base_platform import label_platform
from cachelab.build.cache_hits import hit_adds_layer
from cachelab.build.cached_layer import CacheHit
from cachelab.build.config import ImageConfig
from cachelab.build.errors import BuildError, instruction_failed
from cachelab.build.images import BuildImages
from cachelab.build.layer_io import LayerMover, store_file
from cachelab.build.metadata import METADATA_KINDS, apply_metadata
from cachelab.build.progress import Progress
from cachelab.build.rootfs import BuildWorkspace
from cachelab.build.stage_image import DISCARDED, ImageLayer, StageImage, take_root
from cachelab.build.timing import TimedCache
from cachelab.dockerfile.model import Instruction
from cachelab.events.spans import OpenSpan, SpanClock
from cachelab.keys.buildargs import StageEnv
from cachelab.keys.dockerignore import DockerIgnore
from cachelab.keys.flags import KanikoOptions
from cachelab.oci import mediatypes
from cachelab.oci.image import RegistryImageSource
from cachelab.plan.decisions import InstructionPlan, StagePlan
from cachelab.plan.interfaces import CacheEntry
from cachelab.plan.stages import PlanStage

if TYPE_CHECKING:
    from cachelab.build.copy_from import CopyFromLine
    from cachelab.build.copysources import SourceRoot
    from cachelab.build.prefetch import BasePrefetcher
    from cachelab.build.sandbox import Sandbox
    from cachelab.build.snapshot import Snapshot, Snapshotter

logger = logging.getLogger(__name__)

_FILESYSTEM_KINDS = frozenset({"RUN", "COPY", "ADD"})

# kaniko leaves the time of history entries unset, which Go writes as its zero time.
# A rebuilt image therefore keeps the seed its FROM children start their keys with.
HISTORY_CREATED = datetime(1, 1, 1, tzinfo=UTC)


@dataclass
class BuildSession:
    """What every stage of one build shares."""

    options: KanikoOptions
    workspace: BuildWorkspace
    clock: SpanClock
    mover: LayerMover
    cache: TimedCache | None
    images: BuildImages
    context_dir: Path
    dockerignore: DockerIgnore
    progress: Progress
    platform: str | None = None
    stage_images: dict[int, StageImage] = field(default_factory=dict)
    root_consumers: dict[int, int] = field(default_factory=dict)  # FROM children still to build
    external_dirs: dict[str, Path] = field(default_factory=dict)
    stage_names: Mapping[int, str | None] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)  # secret id -> host file
    # (source stage, saved path) -> the first `COPY --from` that reads it, for error messages.
    copy_from_lines: Mapping[tuple[int, str], CopyFromLine] = field(default_factory=dict)
    prefetcher: BasePrefetcher | None = None  # extracts the next stage's base early
    dockerfile: str | None = None  # the Dockerfile's path, which warnings name with the line
    # The cache store as errors name it, and its kind (see `cachelab.build.cached_layer`).
    cache_store: str = ""
    cache_store_kind: str = ""
    _sandbox: Sandbox | None = None
    _secret_values: tuple[str, ...] | None = None

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            from cachelab.build.sandbox import Sandbox

            self._sandbox = Sandbox()
        return self._sandbox

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    @property
    def secret_values(self) -> tuple[str, ...]:
        """The secrets' contents, masked in RUN output; read on first use."""
        if self._secret_values is None:
            from cachelab.build.mounts import secret_values

            self._secret_values = secret_values(self.secrets.values())
        return self._secret_values


class StageRunner:
    """Builds one stage by executing its StagePlan."""

    def __init__(
        self, session: BuildSession, stage: PlanStage, plan: StagePlan, env: StageEnv, *, keep_layers: bool = True,
    ) -> None:
        """Prepare to build `stage`.

        With `keep_layers` false, no later step reads this stage's image (it is
        neither the build's result nor a FROM base), so a layer that is not
        pushed to the cache is tarred only to count its bytes, as kaniko never
        compresses it either, and is kept as a `DISCARDED` placeholder.
        """
        self.session = session
        self.keep_layers = keep_layers
        self.stage = stage
        self.plan = plan
        self.env = env
        self.image = StageImage(config=ImageConfig())
        self.snapshotter: Snapshotter | None = None
        self.snapshot_stale = True

    # The stage as a whole

    def run(self) -> StageImage:
        """Prepare the base, run every instruction, save files and return the stage image."""
        self._prepare_base()
        if self.plan.should_unpack:
            self._materialize_root()
        if self.session.prefetcher is not None:
            self.session.prefetcher.start_after(self.plan)
        for instruction in self.plan.instructions:
            command = self.stage.commands[instruction.index]
            self._run_instruction(instruction, command.instruction)
        label_platform(self.image.config, self.session.platform)
        if self.plan.save_files:
            self._save_files()
        if self.plan.save_stage:
            with self.session.clock.span("save-stage") as span:
                span.attributes["layers"] = str(len(self.image.layers))
        return self.image

    def _prepare_base(self) -> None:
        session = self.session
        if self.stage.base_index is not None:
            parent = session.stage_images[self.stage.base_index]
            self.image = parent.derive()
            session.root_consumers[self.stage.base_index] -= 1
            return
        if self.stage.base_kind == "scratch" or self.stage.base_ref is None:
            self.image = StageImage(config=ImageConfig())
            return
        with session.clock.span("resolve-base") as span:
            base = session.images.base(self.stage.base_ref, platform=session.platform)
            span.attributes["reference"] = self.stage.base_ref
            span.attributes["local"] = "true" if base.local else "false"
        config = ImageConfig.from_json(base.image.config)
        repository = _registry_repository(base.image.source)
        layers = [
            ImageLayer(layer.digest, layer.diff_id, layer.size, layer.media_type, layer.opener, origin="base",
                       repository=repository, store_file=store_file(base.image.source, layer.digest),
                       image=self.stage.base_ref)
            for layer in base.image.layers()
        ]
        self.image = StageImage(
            config=config, layers=layers,
            docker_media_types=mediatypes.is_docker(base.image.media_type),
        )

    def _materialize_root(self) -> None:
        """Give the stage a root that contains every layer so far (base and parent)."""
        session = self.session
        root = session.workspace.stage_root(self.plan.index)
        held = 0
        if self.stage.base_index is not None:
            parent = session.stage_images[self.stage.base_index]
            root.rmdir()
            # The last FROM child takes the parent's root over, and earlier ones copy it.
            held = take_root(parent, root, move=session.root_consumers[self.stage.base_index] <= 0)
        elif session.prefetcher is not None:
            taken = session.prefetcher.take(self.plan.index, self.image.layers, root)
            if taken is not None:
                self.image.layers[: len(taken)] = taken
                held = len(taken)
        self.image.root = root
        self.image.extracted = held
        self._extract_pending()

    def _extract_pending(self) -> None:
        assert self.image.root is not None
        for position in range(self.image.extracted, len(self.image.layers)):
            layer = self.session.mover.unpack(self.image.layers[position], self.image.root)
            self.image.layers[position] = layer
        self.image.extracted = len(self.image.layers)
        self.snapshot_stale = True

    # One instruction

    def _run_instruction(self, planned: InstructionPlan, instruction: Instruction) -> None:
        clock = self.session.clock
        started = clock.now()
        try:
            with clock.span("instruction", stage_index=self.plan.index, instruction_index=planned.index) as span:
                span.attributes["decision"] = planned.decision
                if planned.hit:
                    self._apply_hit(planned, instruction)
                else:
                    self._execute(planned, instruction)
        except BuildError as error:
            error.locate(planned.line, planned.text)
            raise
        except OSError as error:
            raise instruction_failed(error, line=planned.line, instruction=planned.text) from error
        self.env.apply(instruction)
        self.session.progress.instruction(self.plan, planned, clock.now() - started)

    def _needs_files_after(self, planned: InstructionPlan) -> bool:
        if self.plan.save_files:
            return True
        later = self.plan.instructions[planned.index + 1:]
        return any(item.requires_unpacked_fs for item in later)

    def _apply_hit(self, planned: InstructionPlan, instruction: Instruction) -> None:
        entry = planned.entry
        if entry is None:
            raise BuildError("the plan marks a hit without a cache entry", line=planned.line)
        adds_layer = hit_adds_layer(
            entry, instruction.kind, store=self.session.cache_store, store_kind=self.session.cache_store_kind,
        )
        if instruction.kind == "WORKDIR":
            apply_metadata(self.image.config, instruction, self.env.expand)
        if not adds_layer:
            # Only a WORKDIR entry written by kaniko before v1.25 has no layer.
            self.image.config.append_empty_history(planned.text, created=HISTORY_CREATED)
            return
        layer = self._cached_layer(entry, planned)
        self.image.layers.append(layer)
        self.image.config.append_layer(layer.diff_id, planned.text, created=HISTORY_CREATED)
        root = self.image.root
        if root is not None and self.image.extracted == len(self.image.layers) - 1 and self._needs_files_after(planned):
            self._extract_pending()

    def _cached_layer(self, entry: CacheEntry, planned: InstructionPlan) -> ImageLayer:
        session = self.session
        cache = session.cache
        assert cache is not None and entry.layer_digest is not None
        media_type = entry.layer_media_type or mediatypes.layer_media_type(self.session.options.compression)
        # Layout caches have the blob as a local file; a registry cache has no `layer_file`.
        layer_file = getattr(cache.cache, "layer_file", None)
        local = layer_file(entry) if layer_file is not None else None
        return ImageLayer(
            entry.layer_digest, entry.diff_id or "", entry.layer_size or 0, media_type,
            lambda: cache.open_layer(entry), origin="cache",
            repository=_registry_repository(getattr(cache.cache, "source", None)),
            store_file=str(local) if local is not None else None,
            hit=CacheHit(session.cache_store, session.cache_store_kind, entry.key, planned.line, planned.text),
        )

    def _execute(self, planned: InstructionPlan, instruction: Instruction) -> None:
        kind = instruction.kind
        clock = self.session.clock
        touched: tuple[str, ...] | None = None
        with clock.span("execute") as span:
            span.attributes["kind"] = kind
            if kind in METADATA_KINDS:
                span.add_bytes(0)  # It changes the config only, so no file data moves.
                apply_metadata(self.image.config, instruction, self.env.expand)
                if kind == "WORKDIR" and self.image.config.config.working_dir != "/":
                    touched = self._make_workdir()
            elif kind == "RUN":
                self._prepare_snapshot()
                self._run(instruction)
            elif kind in ("COPY", "ADD"):
                from cachelab.build.copy import execute_copy

                self._prepare_snapshot()
                result = execute_copy(
                    instruction, stage_root=str(self._root()), source=self._copy_source(planned),
                    workdir=self.image.config.config.working_dir or "/", expand=self.env.expand,
                    record_owner=None if self.session.as_root else self._record_owner,
                    temp_dir=str(self.session.workspace.temp_dir),
                )
                touched = result.touched
                span.add_bytes(result.bytes)
            else:
                raise BuildError(f"{kind} cannot be executed by cachelab", line=planned.line)
        if kind == "MAINTAINER":
            return
        if not self._appends_layer(instruction):
            self.image.config.append_empty_history(planned.text, created=HISTORY_CREATED)
            return
        pushed = planned.push_layer and planned.key is not None and self.session.cache is not None
        layer = self._snapshot(instruction, touched, keep=self.keep_layers or pushed)
        self.image.layers.append(layer)
        if self.image.root is not None and self.image.extracted == len(self.image.layers) - 1:
            self.image.extracted += 1
        self.image.config.append_layer(layer.diff_id, planned.text, created=HISTORY_CREATED)
        self._push(planned, layer)

    def _appends_layer(self, instruction: Instruction) -> bool:
        if self.session.options.cache:
            return True
        if instruction.kind == "WORKDIR":
            return self.image.config.config.working_dir != "/"
        return instruction.kind in _FILESYSTEM_KINDS

    def _root(self) -> Path:
        if self.image.root is None:
            raise BuildError(
                f"stage {self.plan.index} executes an instruction that needs its root filesystem, "
                "but the plan did not unpack it",
                hint="This is a planner bug; report the Dockerfile.",
            )
        return self.image.root

    def _run(self, instruction: Instruction) -> None:
        from cachelab.build.mounts import MountSources, resolve_mounts
        from cachelab.build.run import execute_run, network_allowed
        from cachelab.build.users import UserIds, resolve_user

        session = self.session
        config = self.image.config.config
        root = str(self._root())
        user = resolve_user(root, config.user) if config.user else UserIds(0, 0)
        env = self.env.replacement_envs()
        if not any(item.startswith("HOME=") for item in env):
            env = [*env, "HOME=/root" if user.uid == 0 else "HOME=/"]
        sources = MountSources(
            context=str(session.context_dir), cache_dir=str(session.workspace.cache_dir),
            temp_dir=str(session.workspace.temp_dir), secrets=session.secrets,
        )
        mounts = resolve_mounts(instruction.mounts, sources, line=instruction.start_line, expand=self.env.expand,
                                dockerfile=session.dockerfile)
        uses_secret = any(mount.type == "secret" for mount in instruction.mounts)
        execute_run(
            session.sandbox, root, instruction, env=env, workdir=config.working_dir or "/", user=user,
            shell=config.shell or ("/bin/sh", "-c"), mounts=mounts, network=network_allowed(instruction),
            temp_dir=str(session.workspace.temp_dir), redact=session.secret_values if uses_secret else (),
        )

    def _make_workdir(self) -> tuple[str, ...]:
        from cachelab.build.users import UserIds, resolve_user
        from cachelab.build.workdir import make_workdir

        self._prepare_snapshot()
        config = self.image.config.config
        root = str(self._root())
        user = resolve_user(root, config.user) if config.user else UserIds(0, 0)
        created = make_workdir(
            root, config.working_dir, user=user,
            record_owner=None if self.session.as_root else self._record_owner,
        )
        # The snapshot covers the whole WORKDIR path, so an existing directory gives an empty layer.
        return (config.working_dir, *created)

    def _copy_source(self, planned: InstructionPlan) -> SourceRoot:
        from cachelab.build.copysources import SourceRoot

        session = self.session
        if planned.source_stage is not None:
            deps = session.workspace.deps_dir(planned.source_stage)
            return SourceRoot(str(deps), f"the files saved from stage {planned.source_stage}")
        if planned.source_image is not None:
            return SourceRoot(str(session.external_dirs[planned.source_image]), f"image {planned.source_image}")
        return SourceRoot(str(session.context_dir), f"build context {session.context_dir}", session.dockerignore)

    def _record_owner(self, rel: str, uid: int, gid: int) -> None:
        self._prepare_snapshot()
        assert self.snapshotter is not None
        self.snapshotter.record_owner(rel, uid, gid)

    # Snapshots and pushes

    def _prepare_snapshot(self) -> None:
        """Bring the root and the snapshot state up to date before a change is made."""
        root = self._root()
        if not self.image.root_complete:
            # The plan extracts every hit that a later command needs, so this only guards that rule.
            self._extract_pending()
        if self.snapshotter is None:
            from cachelab.build.snapshot import Snapshotter

            self.snapshotter = Snapshotter(str(root))
        elif self.snapshot_stale:
            self.snapshotter.reset()
        self.snapshot_stale = False

    def _snapshot(self, instruction: Instruction, touched: tuple[str, ...] | None, *, keep: bool) -> ImageLayer:
        from cachelab.oci.layers import LayerWriter

        session = self.session
        if not keep:
            with session.clock.span("snapshot") as span, open(os.devnull, "wb") as sink:
                snapshot = self._take_snapshot(instruction, touched, sink)
                span.add_bytes(snapshot.size)
                span.attributes["entries"] = str(snapshot.entries)
            return ImageLayer("", "", 0, "", _discarded_opener(self.plan.index), origin=DISCARDED)

        with session.clock.span("snapshot") as span, LayerWriter(
            session.options.compression, directory=session.workspace.layers_dir,
            docker=self.image.docker_media_types,
        ) as writer:
            # The tar streams straight into the compressor, so it is never stored uncompressed.
            snapshot = self._take_snapshot(instruction, touched, writer)
            layer_file = writer.finish()
            span.add_bytes(snapshot.size)
            span.attributes["entries"] = str(snapshot.entries)
        return ImageLayer(
            layer_file.digest, layer_file.diff_id, layer_file.size, layer_file.media_type,
            _opener(layer_file.path), path=layer_file.path, origin="built",
        )

    def _take_snapshot(self, instruction: Instruction, touched: tuple[str, ...] | None, dest: BinaryIO) -> Snapshot:
        """Write the layer tar of the instruction's changes to `dest`."""
        from cachelab.build.snapshot import ChangeSet, write_layer_tar

        if self.image.root is None or (instruction.kind in METADATA_KINDS and touched is None):
            return write_layer_tar(str(self.session.workspace.temp_dir), {}, ChangeSet(), dest)
        if touched is not None:
            self._prepare_snapshot()
            assert self.snapshotter is not None
            return self.snapshotter.take_paths(touched, dest)
        assert self.snapshotter is not None
        return self.snapshotter.take(dest)

    def _push(self, planned: InstructionPlan, layer: ImageLayer) -> None:
        cache = self.session.cache
        if cache is None:
            return
        now = datetime.now(UTC)
        if planned.push_layer and planned.key is not None:
            with self._counted_span("push-layer") as span:
                span.attributes["key"] = planned.key
                if cache.put_layer(planned.key, _LayerBlob.of(layer), created_by=planned.text, created=now):
                    span.add_bytes(layer.size)
                else:
                    span.attributes["failed"] = "true"
        if planned.push_pointer is not None:
            with self._counted_span("push-pointer") as span:
                span.attributes["key"] = planned.push_pointer.key
                if not cache.put_pointer(planned.push_pointer.key, planned.push_pointer.target, created=now):
                    span.attributes["failed"] = "true"

    @contextlib.contextmanager
    def _counted_span(self, phase: str) -> Iterator[OpenSpan]:
        """Open a span that also counts the registry requests made inside it."""
        stats = self.session.mover.stats
        before = stats.total_requests if stats is not None else 0
        with self.session.clock.span(phase) as span:
            yield span
            if stats is not None:
                span.add_requests(stats.total_requests - before)

    # After the instructions

    def _save_files(self) -> None:
        if self.image.root is None:
            raise BuildError(f"stage {self.plan.index} must save files for a later COPY --from but has no root")
        if not self.image.root_complete:
            self._extract_pending()
        from cachelab.build.stagefiles import save_stage_files

        session = self.session
        index = self.plan.index
        dest = session.workspace.deps_dir(index)
        # The planner expanded the paths with each copying stage's environment, as kaniko does.
        paths = list(self.plan.save_files)
        needed_by: dict[str, CopyFromLine] = {}
        for path in paths:
            reader = session.copy_from_lines.get((index, path))
            if reader is not None:
                needed_by[path] = reader
        name = session.stage_names.get(index)
        with session.clock.span("save-files") as span:
            # The builder removes the root right after this stage unless it is the
            # result or a FROM child takes it over, so then linking is safe.
            removed_after = not self.stage.is_final and session.root_consumers.get(index, 0) <= 0
            saved = save_stage_files(
                str(self.image.root), paths, str(dest),
                description=f"stage {index} ({name})" if name else f"stage {index}", needed_by=needed_by,
                link=removed_after,
            )
            span.attributes["files"] = str(saved)


@dataclass(slots=True)
class _LayerBlob:
    """A built layer in the shape of the planner's `LayerBlob`."""

    path: str
    digest: str
    size: int
    diff_id: str
    media_type: str

    @classmethod
    def of(cls, layer: ImageLayer) -> _LayerBlob:
        assert layer.path is not None
        return cls(layer.path, layer.digest, layer.size, layer.diff_id, layer.media_type)


def _registry_repository(source: object) -> str | None:
    """Return "registry/repository" of a registry image source, None for any other source."""
    if isinstance(source, RegistryImageSource):
        return f"{source.client.registry}/{source.repository}"
    return None


def _opener(path: str):  # type: ignore[no-untyped-def]
    return lambda: open(path, "rb")


def _discarded_opener(stage_index: int):  # type: ignore[no-untyped-def]
    def refuse() -> BinaryIO:
        raise BuildError(
            f"a layer of stage {stage_index} was not kept, because no later step was expected to read it",
            hint="This is a builder bug; report the Dockerfile.",
        )

    return refuse
