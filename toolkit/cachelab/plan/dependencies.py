"""The paths each `COPY --from=<stage>` reads, resolved as kaniko's `CalculateDependencies` does.

Before building, kaniko walks every stage it builds and expands each
`COPY --from=<stage>` source with the environment of the copying stage at that
line. The source stage saves exactly those paths for the later copy, so a path
resolved differently here than in kaniko makes the copy fail.

The walk differs from the one the keys use (osscontainertools/kaniko at commit
6bcc934, `pkg/executor/build.go`):

* Every stage starts with fresh build arguments: the `--build-arg` values and
  the meta ARGs, without the predefined platform ARGs and without the ARGs of a
  local base stage.
* The config Env starts from the remote base's config (kaniko's scratch default
  when it has none), or for a local base from that stage's start Env with its
  ENV instructions applied by this same walk.
* ENV and ARG are applied in order, ONBUILD triggers included. The sources are
  expanded with a backslash escape and cleaned like Go's `filepath.Clean`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from cachelab.dockerfile.errors import ExpansionError
from cachelab.dockerfile.graph import KanikoStage, SourceRef, StageGraph
from cachelab.dockerfile.model import Instruction
from cachelab.keys.buildargs import BuildArgs, StageEnv
from cachelab.keys.parts import expanded_sources

# Returns the config Env of a remote base image, or None when its config has none.
BaseEnv = Callable[[str], Sequence[str] | None]


@dataclass(frozen=True, slots=True)
class CopyFromSources:
    """The resolved sources of every `COPY --from=<stage>` in the built stages.

    `paths` maps `id(instruction)` to that instruction's resolved sources, and
    `save_files` maps a source stage to the sorted, unique paths it saves.
    """

    paths: dict[int, tuple[str, ...]] = field(default_factory=dict)
    save_files: dict[int, tuple[str, ...]] = field(default_factory=dict)


def resolve_copy_sources(
    graph: StageGraph, *, build_args: Mapping[str, str], base_env: BaseEnv, arg_precedence: bool = True,
) -> CopyFromSources:
    """Resolve the sources of every `COPY --from=<stage>` of `graph`'s built stages.

    `arg_precedence` is `FF_KANIKO_BUILDKIT_ARG_ENV_PRECEDENCE`. A base image's
    Env is read only for a stage whose sources contain a `$`, or whose FROM
    children need its Env. Raises `ExpansionError` at the line of an ENV, ARG
    or COPY that cannot be expanded.
    """
    walk = _DependencyWalk(graph, build_args, base_env, arg_precedence)
    paths: dict[int, tuple[str, ...]] = {}
    saved: dict[int, set[str]] = {}
    for built in graph.built:
        for instruction, source_stage, resolved in walk.copy_sources(built):
            paths.setdefault(id(instruction), resolved)
            saved.setdefault(source_stage, set()).update(resolved)
    return CopyFromSources(paths, {index: tuple(sorted(files)) for index, files in saved.items()})


class _DependencyWalk:
    def __init__(
        self, graph: StageGraph, build_args: Mapping[str, str], base_env: BaseEnv, arg_precedence: bool,
    ) -> None:
        self.built = {stage.index: stage for stage in graph.built}
        self.path = graph.dockerfile.path
        self.base_env = base_env
        self.arg_precedence = arg_precedence
        self.args = BuildArgs.from_options(dict(build_args))
        self.args.add_meta_args(graph.dockerfile.meta_args)
        self._end_env: dict[int, list[str]] = {}

    def copy_sources(self, built: KanikoStage) -> Iterator[tuple[Instruction, int, tuple[str, ...]]]:
        """Yield (instruction, source stage, resolved sources) for each `COPY --from=<stage>` of `built`."""
        copies = list(_stage_copies(built))
        if not copies:
            return
        if not any("$" in word for instruction, _ in copies for word in instruction.args[:-1]):
            # Without a variable the environment changes nothing, so no base config is read.
            plain = StageEnv.for_base(None, BuildArgs())
            for instruction, source_stage in copies:
                yield instruction, source_stage, self._resolve(instruction, plain)
            return

        state = self._start(built)
        source_stages = {id(instruction): source_stage for instruction, source_stage in copies}
        for instruction in built.instructions:
            source = source_stages.get(id(instruction))
            if source is not None:
                yield instruction, source, self._resolve(instruction, state)
            state.apply(instruction)
        self._end_env[built.index] = state.env

    def _resolve(self, instruction: Instruction, state: StageEnv) -> tuple[str, ...]:
        try:
            return tuple(expanded_sources(instruction, state))
        except ExpansionError as exc:
            raise exc.located(self.path, instruction.start_line) from None

    def _start(self, built: KanikoStage) -> StageEnv:
        if built.base_kind == "stage" and built.base_stage is not None:
            env: Sequence[str] | None = self._stage_env(built.base_stage)
        elif built.base_kind == "image" and built.base_image is not None:
            env = self.base_env(built.base_image)
        else:
            env = None
        return StageEnv.for_base(env, self.args.clone(), arg_precedence=self.arg_precedence)

    def _stage_env(self, index: int) -> list[str]:
        """Return the Env a local base stage ends with in this walk."""
        known = self._end_env.get(index)
        if known is None:
            state = self._start(self.built[index])
            for instruction in self.built[index].instructions:
                state.apply(instruction)
            known = self._end_env[index] = state.env
        return known


def _stage_copies(built: KanikoStage) -> Iterator[tuple[Instruction, int]]:
    """Yield each `COPY --from=<stage>` of `built` with the index of its source stage."""
    sources = iter(built.sources)
    for instruction in built.instructions:
        source = next_source(sources, "copy") if instruction.copy_from is not None else None
        for mount in instruction.mounts:
            if mount.from_:
                next_source(sources, "mount")
        if source is not None and source.stage is not None:
            yield instruction, source.stage


def next_source(sources: Iterator[SourceRef], kind: str) -> SourceRef | None:
    """Return the next source of `kind` (`copy` or `mount`), skipping sources of the other kind."""
    for source in sources:
        if source.kind == kind:
            return source
    return None
