"""kaniko's stage selection: targets, liveness, ONBUILD injection and FROM-chain squash.

The rules follow kaniko's `MakeKanikoStages` (osscontainertools fork, commit
6bcc934):

* Targets are stage names, case-insensitive; without one the last stage is the
  target. The final stage is the highest-index target and stages after it are
  dropped. The push stage is the first target given.
* Walking back from the final stage, a stage is kept (live) when it is a target,
  or a kept stage uses it as its FROM base or as a `--from` source. The `--from`
  of ONBUILD triggers injected into a kept stage counts too. Unlike kaniko, a
  `RUN --mount=from=<stage>` also counts as a `--from` source here.
* Each kept stage gets ONBUILD triggers prepended: the `ONBUILD` declarations of a
  local base stage, or the `OnBuild` list of a remote base image's config.
* A kept stage S whose local base B has exactly one FROM-dependent and no
  `--from` dependents is merged with it (`squash`). S keeps its name and place
  and takes B's base. It runs B's instructions without B's own ONBUILD
  declarations, then its own. Chains merge transitively. The push stage counts
  one extra FROM-dependent, so it is never merged into a child. Another target
  merged into a child is still built on its own as well.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from cachelab.dockerfile.args import expand_base, meta_arg_values, platform_args
from cachelab.dockerfile.errors import DockerfileError, ExpansionError, closest_match
from cachelab.dockerfile.layer_warnings import FROM_LATER_STAGE, IMAGE_NOT_STAGE, DockerfileWarning, warn
from cachelab.dockerfile.lexer import expand_word
from cachelab.dockerfile.model import Dockerfile, Instruction, Stage
from cachelab.dockerfile.parse import parse_trigger

logger = logging.getLogger(__name__)

BaseKind = Literal["image", "stage", "scratch"]
SourceKind = Literal["copy", "mount"]
ImageOnbuild = Callable[[str], Sequence[str]]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """The resolved source of a `COPY/ADD --from` or a `RUN --mount from=`.

    Exactly one of `stage` (original index of an earlier stage) and `image` (an
    external image reference) is set.
    """

    kind: SourceKind
    written: str
    line: int
    stage: int | None = None
    image: str | None = None


@dataclass(frozen=True, slots=True)
class StageInfo:
    """One stage of the Dockerfile as written, with its resolved references.

    `squashed_into` is the index of the built stage that absorbed this one as a
    FROM base, or None. A target other than the push stage may be absorbed and
    still be built under its own index.
    """

    index: int
    name: str | None
    base_kind: BaseKind
    base_image: str | None
    base_stage: int | None
    platform: str | None
    sources: tuple[SourceRef, ...]
    live: bool
    target: bool
    squashed_into: int | None = None

    @property
    def depends_on(self) -> tuple[int, ...]:
        """Indices of the stages this one needs: its FROM base and `--from` sources."""
        found = {source.stage for source in self.sources if source.stage is not None}
        if self.base_stage is not None:
            found.add(self.base_stage)
        return tuple(sorted(found))


@dataclass(frozen=True, slots=True)
class KanikoStage:
    """One stage kaniko builds, after ONBUILD injection and squash.

    `index` is the original index of the stage whose name and place it keeps, and
    `absorbed` lists every original stage merged into it, base first, ending with
    `index`. `instructions` are what runs: injected triggers first, then the
    stage's own (for a squashed chain, each base's instructions before its
    child's). `base_stage` is an original stage index.
    """

    index: int
    name: str | None
    base_kind: BaseKind
    base_image: str | None
    base_stage: int | None
    platform: str | None
    instructions: tuple[Instruction, ...]
    triggers: tuple[Instruction, ...]
    sources: tuple[SourceRef, ...]
    absorbed: tuple[int, ...]
    push: bool = False
    final: bool = False

    @property
    def declares_onbuild(self) -> bool:
        return any(instruction.kind == "ONBUILD" for instruction in self.instructions)


@dataclass(frozen=True, slots=True)
class StageGraph:
    """The stages of a Dockerfile and the stages kaniko builds from it."""

    dockerfile: Dockerfile
    targets: tuple[int, ...]
    final: int
    push: int
    args: Mapping[str, str]
    stages: tuple[StageInfo, ...]
    built: tuple[KanikoStage, ...]

    def built_stage(self, index: int) -> KanikoStage | None:
        """Return the built stage kept under original index `index`, or None."""
        for stage in self.built:
            if stage.index == index:
                return stage
        return None


def plan_stages(
    dockerfile: Dockerfile,
    *,
    targets: Sequence[str] = (),
    build_args: Mapping[str, str] | None = None,
    image_onbuild: ImageOnbuild | None = None,
    platform: str | None = None,
) -> StageGraph:
    """Select, inject and squash the stages kaniko would build.

    `image_onbuild(reference)` returns the ONBUILD trigger expressions of a remote
    base image's config; without it remote bases inject nothing. `platform` is
    the target platform (default: this machine's). It is checked but changes no
    stage, because kaniko expands FROM lines without the platform ARGs.
    """
    path = dockerfile.path
    values = meta_arg_values(
        dockerfile.meta_args,
        build_args or {},
        predefined=platform_args(platform),
        path=path,
        escape=dockerfile.escape,
    )
    names = _stage_names(dockerfile.stages, path)
    resolver = _Resolver(dockerfile, names, values)

    bases = [resolver.base(stage) for stage in dockerfile.stages]
    sources = [resolver.sources(stage.instructions, stage.index) for stage in dockerfile.stages]
    target_indices = _target_indices(targets, dockerfile, names)
    final = max(target_indices)
    push = target_indices[0]

    # Walk back from the final stage. Only live stages get their triggers (so a
    # remote base's config is fetched only when needed), and the triggers'
    # `--from` sources keep their stages live too.
    live = set(target_indices)
    built: list[KanikoStage] = []
    for index in range(final, -1, -1):
        if index not in live:
            continue
        stage = dockerfile.stages[index]
        kind, image, base_stage = bases[index]
        triggers = resolver.triggers(stage, kind, image, base_stage, image_onbuild)
        stage_sources = resolver.sources(triggers, index) + sources[index]
        if base_stage is not None:
            live.add(base_stage)
        # kaniko counts FROM bases and COPY --from as dependencies, never a RUN
        # --mount from=, whose bind it skips at run time.
        live.update(source.stage for source in stage_sources if source.stage is not None and source.kind == "copy")
        built.append(
            KanikoStage(
                index=index,
                name=stage.name,
                base_kind=kind,
                base_image=image,
                base_stage=base_stage,
                platform=stage.platform,
                instructions=triggers + stage.instructions,
                triggers=triggers,
                sources=stage_sources,
                absorbed=(index,),
                push=index == push,
                final=index == final,
            )
        )
    built.reverse()
    logger.debug("%s: targets %s, live stages %s", path, target_indices, sorted(live))

    squashed = squash_stages(built, keep=(push,), targets=target_indices)
    absorbed_by = {
        absorbed: result.index
        for result in squashed
        for absorbed in result.absorbed
        if absorbed != result.index
    }
    infos = tuple(
        StageInfo(
            index=stage.index,
            name=stage.name,
            base_kind=bases[stage.index][0],
            base_image=bases[stage.index][1],
            base_stage=bases[stage.index][2],
            platform=stage.platform,
            sources=sources[stage.index],
            live=stage.index in live,
            target=stage.index in target_indices,
            squashed_into=absorbed_by.get(stage.index),
        )
        for stage in dockerfile.stages
    )
    return StageGraph(
        dockerfile=dockerfile,
        targets=tuple(target_indices),
        final=final,
        push=push,
        args=values,
        stages=infos,
        built=squashed,
    )


def squash_stages(
    stages: Sequence[KanikoStage],
    *,
    keep: Collection[int] = (),
    targets: Collection[int] = (),
    skip_bases_with_onbuild: bool = False,
) -> tuple[KanikoStage, ...]:
    """Merge each stage with a local base that nothing else depends on.

    Dependents (FROM bases and `--from` sources, triggers' included) are counted
    among `stages` only, so the planner can re-squash after eliminating stages.
    Indices in `keep` (the push stage) count one extra FROM-dependent and are
    never merged into a child. A base in `targets` is merged into its child and
    still built on its own, as kaniko does. With `skip_bases_with_onbuild`, a
    base that declares ONBUILD is not merged: merging drops its declarations,
    which changes the keys of the merged chain.
    """
    from_dependents = Counter(stage.base_stage for stage in stages if stage.base_stage is not None)
    from_dependents.update(keep)
    copy_dependents = Counter(
        source.stage for stage in stages for source in stage.sources
        if source.stage is not None and source.kind == "copy"
    )

    by_index: dict[int, KanikoStage] = {}
    for stage in sorted(stages, key=lambda item: item.index):
        base_index = stage.base_stage
        base = by_index.get(base_index) if base_index is not None else None
        mergeable = (
            base is not None
            and base_index is not None
            and from_dependents[base_index] == 1
            and copy_dependents[base_index] == 0
            and not (skip_bases_with_onbuild and base.declares_onbuild)
        )
        if mergeable and base is not None and base_index is not None:
            if base_index not in targets:
                del by_index[base_index]
            by_index[stage.index] = squash(base, stage)
        else:
            by_index[stage.index] = stage
    return tuple(by_index[index] for index in sorted(by_index))


def squash(base: KanikoStage, child: KanikoStage) -> KanikoStage:
    """Merge `child` with its local FROM base: the child's name and place, the base's base."""
    inherited = tuple(
        instruction for instruction in base.instructions if instruction.kind != "ONBUILD"
    )
    return replace(
        child,
        base_kind=base.base_kind,
        base_image=base.base_image,
        base_stage=base.base_stage,
        platform=base.platform,
        instructions=inherited + child.instructions,
        triggers=base.triggers + child.triggers,
        sources=base.sources + child.sources,
        absorbed=base.absorbed + child.absorbed,
    )


def _stage_names(stages: Sequence[Stage], path: str) -> dict[str, int]:
    names: dict[str, int] = {}
    for stage in stages:
        if stage.name is None:
            continue
        if stage.name in names:
            raise DockerfileError(
                f"duplicate stage name {stage.name!r} (first used by stage {names[stage.name]})",
                path=path,
                line=stage.from_instruction.start_line,
                hint="Give each stage a different AS name.",
            )
        names[stage.name] = stage.index
    return names


def _target_indices(
    targets: Sequence[str], dockerfile: Dockerfile, names: Mapping[str, int]
) -> list[int]:
    if not targets:
        return [len(dockerfile.stages) - 1]
    indices: list[int] = []
    for target in targets:
        index = names.get(target.lower())
        if index is None:
            raise DockerfileError(
                f"target stage {target!r} not found",
                path=dockerfile.path,
                line=None,
                hint=_target_hint(target, names),
            )
        if index not in indices:
            indices.append(index)
    return indices


def _target_hint(target: str, names: Mapping[str, int]) -> str:
    suggestion = closest_match(target.lower(), names)
    if suggestion:
        return f"Use {suggestion!r} if that is the stage you meant."
    if names:
        return f"Use one of the stage names: {', '.join(names)}."
    return "Name the stage with `FROM image AS name` first, because this Dockerfile names no stage."


def _is_plain_word(value: str) -> bool:
    """Return True for a name without a registry, path, tag or digest, such as `builder`."""
    return not any(character in value for character in "/:.@")


class _Resolver:
    """Resolves FROM bases and `--from` references against earlier stages."""

    def __init__(
        self, dockerfile: Dockerfile, names: Mapping[str, int], values: Mapping[str, str]
    ) -> None:
        self.dockerfile = dockerfile
        self.path = dockerfile.path
        self.names = names
        self.values = values

    def base(self, stage: Stage) -> tuple[BaseKind, str | None, int | None]:
        line = stage.from_instruction.start_line
        expanded = expand_base(
            stage.base, self.values, path=self.path, line=line, escape=self.dockerfile.escape
        )
        lowered = expanded.lower()
        if lowered == "scratch":
            return "scratch", None, None
        index = self.names.get(lowered)
        if index is not None and index < stage.index:
            return "stage", None, index
        if index is not None:
            self._warn_later_stage(expanded, index, line)
        return "image", expanded, None

    def _warn_later_stage(self, value: str, index: int, line: int) -> None:
        # BuildKit and kaniko look a FROM word up among the stages above it only.
        defined_at = self.dockerfile.stages[index].from_instruction.start_line
        warning = DockerfileWarning(
            FROM_LATER_STAGE, logger.name,
            "%s:%d: no stage before this FROM is named %r, so FROM %s is the image "
            "docker.io/library/%s (a FROM can use only stages defined above it, and stage %r is defined at line %d)",
            (self.path, line, value.lower(), value, value.lower(), value.lower(), defined_at),
        )
        warn(warning, key=(self.path, line, value))

    def sources(self, instructions: Iterable[Instruction], current: int) -> tuple[SourceRef, ...]:
        found: list[SourceRef] = []
        for instruction in instructions:
            written = instruction.copy_from
            if written is not None:
                found.append(self.resolve(written, "copy", instruction.start_line, current))
            for mount in instruction.mounts:
                if mount.from_:
                    found.append(
                        self.resolve(mount.from_, "mount", instruction.start_line, current)
                    )
        return tuple(found)

    def _warn_image_not_stage(self, value: str, line: int) -> None:
        # BuildKit and kaniko read a `--from` that names no stage as an image
        # reference, so a misspelt stage name silently pulls from Docker Hub.
        warning = DockerfileWarning(
            IMAGE_NOT_STAGE, logger.name,
            "%s:%d: no stage is named %r, so --from=%s is the image docker.io/library/%s",
            (self.path, line, value, value, value.lower()),
        )
        warn(warning, key=(self.path, line, value))

    def resolve(self, written: str, kind: SourceKind, line: int, current: int) -> SourceRef:
        # NOTE: `--from` is expanded with the meta ARGs only; ARGs declared inside
        # the stage are not applied.
        value = written
        if "$" in written:
            try:
                value = expand_word(written, self.values, escape=self.dockerfile.escape)
            except ExpansionError as exc:
                raise exc.located(self.path, line) from None
        if not value:
            raise DockerfileError(
                f"empty --from in {kind}",
                path=self.path,
                line=line,
                hint="Name an earlier stage, a stage index or an image.",
            )

        index = self.names.get(value.lower())
        if index is None and value.isdigit():
            index = int(value)
            if index >= len(self.dockerfile.stages):
                raise DockerfileError(
                    f"--from={written} refers to stage {index}, but the Dockerfile has "
                    f"{len(self.dockerfile.stages)} stages",
                    path=self.path,
                    line=line,
                    hint=f"Use an index from 0 to {len(self.dockerfile.stages) - 1}, because indices "
                    "count FROM lines from 0.",
                )
        if index is None:
            if _is_plain_word(value):
                self._warn_image_not_stage(value, line)
            return SourceRef(kind=kind, written=written, line=line, image=value)
        if index >= current:
            raise DockerfileError(
                f"--from={written} refers to stage {index}, which is not defined before "
                f"stage {current}",
                path=self.path,
                line=line,
                hint="Move the source stage above the stage that copies from it.",
            )
        return SourceRef(kind=kind, written=written, line=line, stage=index)

    def triggers(
        self,
        stage: Stage,
        kind: BaseKind,
        image: str | None,
        base_stage: int | None,
        image_onbuild: ImageOnbuild | None,
    ) -> tuple[Instruction, ...]:
        if kind == "stage" and base_stage is not None:
            base = self.dockerfile.stages[base_stage]
            return tuple(
                instruction.trigger
                for instruction in base.instructions
                if instruction.kind == "ONBUILD" and instruction.trigger is not None
            )
        if kind == "image" and image is not None and image_onbuild is not None:
            line = stage.from_instruction.start_line
            return tuple(
                parse_trigger(expression, path=self.path, line=line, escape=self.dockerfile.escape)
                for expression in image_onbuild(image)
            )
        return ()
