"""The stages kaniko builds, from the front end's stage graph, in the planner's form.

`cachelab.dockerfile.graph.plan_stages` selects live stages, injects ONBUILD
triggers, resolves `--from` and squashes FROM chains. This module attaches what
the planner needs on top: the stage each command was written in, the resolved
source of each cross-stage COPY, the dependency counts and the files each source
stage must save for later `COPY --from`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping

from cachelab.dockerfile.errors import DockerfileError
from cachelab.dockerfile.graph import KanikoStage, SourceRef, StageGraph, squash
from cachelab.dockerfile.lexer import expand_word
from cachelab.dockerfile.model import Dockerfile, Instruction
from cachelab.plan.dependencies import BaseEnv, CopyFromSources, next_source, resolve_copy_sources
from cachelab.plan.stages import Command, PlanStage, StageList

logger = logging.getLogger(__name__)


def select_stages(
    dockerfile: Dockerfile, graph: StageGraph, *, build_args: Mapping[str, str], base_env: BaseEnv,
    arg_precedence: bool = True,
) -> StageList:
    """Build the planner's stage list from `dockerfile`'s stage graph (`plan_stages`).

    `build_args`, `base_env` (a remote base's config Env) and `arg_precedence`
    (`FF_KANIKO_BUILDKIT_ARG_ENV_PRECEDENCE`) resolve the `COPY --from` sources
    (`cachelab.plan.dependencies`).
    """
    origins = _origins(dockerfile)
    copies = resolve_copy_sources(graph, build_args=build_args, base_env=base_env, arg_precedence=arg_precedence)
    stages = [_plan_stage(graph, built, origins, copies) for built in graph.built]

    from_count = Counter(stage.base_index for stage in stages if stage.base_index is not None)
    copy_count = Counter(c.source_stage for stage in stages for c in stage.commands if c.source_stage is not None)
    for stage in stages:
        stage.from_dependents = from_count[stage.index] + (1 if stage.is_push else 0)
        stage.copy_dependents = copy_count[stage.index]

    built_indexes = {index for stage in graph.built for index in stage.absorbed}
    squashed_into = {info.index: info.squashed_into for info in graph.stages if info.squashed_into is not None}
    return StageList(
        stages=stages,
        unused=[info.index for info in graph.stages if info.index not in built_indexes],
        squashed_into=squashed_into,
        names={stage.index: stage.name for stage in dockerfile.stages},
        bases={stage.index: stage.base for stage in dockerfile.stages},
        written_bases={info.index: (info.base_kind, info.base_image, info.base_stage) for info in graph.stages},
        meta_args=dict(graph.args),
        merge=lambda base, child: _merge(graph, base, child, origins, copies),
    )


def _merge(
    graph: StageGraph, base: PlanStage, child: PlanStage, origins: Mapping[int, int], copies: CopyFromSources,
) -> PlanStage:
    merged = _plan_stage(graph, squash(base.kaniko_stage, child.kaniko_stage), origins, copies)
    merged.from_dependents = child.from_dependents
    merged.copy_dependents = child.copy_dependents
    return merged


def _origins(dockerfile: Dockerfile) -> dict[int, int]:
    # The graph's stages reuse the parsed Instruction objects, so the object identity
    # identifies the stage each instruction was written in.
    return {
        id(instruction): stage.index
        for stage in dockerfile.stages
        for instruction in stage.instructions
    }


def _plan_stage(
    graph: StageGraph, built: KanikoStage, origins: Mapping[int, int], copies: CopyFromSources,
) -> PlanStage:
    commands = list(_commands(built, origins, copies.paths))
    dockerfile = graph.dockerfile
    root = dockerfile.stages[built.absorbed[0]]
    if built.base_kind == "stage" and built.base_stage is not None:
        base_name = _expanded_base(root.base, graph)
    else:
        base_name = built.base_image or "scratch"
    return PlanStage(
        index=built.index,
        name=built.name,
        base_kind=built.base_kind,
        base_name=base_name,
        base_ref=built.base_image if built.base_kind == "image" else None,
        base_index=built.base_stage,
        commands=commands,
        absorbed=tuple(index for index in built.absorbed if index != built.index),
        platform=built.platform,
        is_target=built.index in graph.targets,
        is_final=built.final,
        is_push=built.push,
        save_files=copies.save_files.get(built.index, ()),
        onbuild_from_image=built.base_kind == "image" and bool(built.triggers),
        kaniko_stage=built,
    )


def _commands(
    built: KanikoStage, origins: Mapping[int, int], source_paths: Mapping[int, tuple[str, ...]],
) -> Iterator[Command]:
    sources = iter(built.sources)
    pending: list[tuple[Instruction, SourceRef | None]] = []
    for instruction in built.instructions:
        copy_source = None
        if instruction.copy_from is not None:
            copy_source = next_source(sources, "copy")
        for mount in instruction.mounts:
            if mount.from_:
                next_source(sources, "mount")
        origin = origins.get(id(instruction))
        if origin is None:
            # An injected ONBUILD trigger: it belongs to the stage it runs in, which
            # is the stage of the next instruction written there.
            pending.append((instruction, copy_source))
            continue
        for trigger, trigger_source in pending:
            yield _command(trigger, origin, trigger_source, source_paths)
        pending.clear()
        yield _command(instruction, origin, copy_source, source_paths)
    for trigger, trigger_source in pending:
        # NOTE: triggers of a stage with no instructions of its own are attributed to
        # the built stage. Inside a squashed chain this may name the wrong stage.
        yield _command(trigger, built.index, trigger_source, source_paths)


def _command(
    instruction: Instruction, origin: int, source: SourceRef | None, source_paths: Mapping[int, tuple[str, ...]],
) -> Command:
    if source is None:
        return Command(instruction=instruction, origin_stage=origin)
    return Command(
        instruction=instruction, origin_stage=origin, source_stage=source.stage, source_image=source.image,
        source_paths=source_paths.get(id(instruction), ()),
    )


def _expanded_base(word: str, graph: StageGraph) -> str:
    if "$" not in word:
        return word
    try:
        return expand_word(word, graph.args, escape=graph.dockerfile.escape)
    except DockerfileError:
        return word

