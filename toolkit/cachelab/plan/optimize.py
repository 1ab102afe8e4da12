"""kaniko's `optimize` walk over one stage: keys, pointer lookups and probes.

The same walk serves three passes:

* `precompute` (lookahead): before anything is built. A `COPY --from` whose key
  cannot be inferred through a pointer stops keying the rest of the stage.
* `build`: when the builder reaches the stage. Source stages are built, so a
  `COPY --from` without a pointer is keyed from the saved files of its source.
* `static`: the cold-build keys kaniko would compute, with no cache I/O at all;
  it gives `key_a_priori` without the precompute pass and the `keys` command.

Per command, the key parts are appended to the chain, because kaniko keys every
command except MAINTAINER, probed or not. The key is the chain's hash. Commands
that cache output are probed unless an earlier probe in the stage missed, which
FF_KANIKO_CACHE_PROBE_AFTER_MISS turns off. Metadata commands then update the
symbolic environment so later keys see ENV and ARG.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cachelab.keys.composite import CompositeKey
from cachelab.plan.decisions import (
    BLOCKER_COPY_FROM_CONTENT,
    BLOCKER_COPY_FROM_STAGE_UNKEYED,
    BLOCKER_INFERENCE_DISABLED,
    InstructionPlan,
    PointerPush,
)
from cachelab.plan.errors import PlanError
from cachelab.plan.gates import Gates
from cachelab.plan.graph import key_cross_stage_copy
from cachelab.plan.keying import CommandParts, Keyer, StageEnvironment
from cachelab.plan.probe import MemoizedCache
from cachelab.plan.stages import Command

logger = logging.getLogger(__name__)

Pass = Literal["precompute", "build", "static"]

# The builder's saved files of a source stage (by index) or external image (by
# reference): the real directory and the name kaniko hashes them under. None when
# they are not available (the source was not built in this run).
StageFiles = Callable[[int | str], "tuple[str, str] | None"]


class PointerMismatchError(PlanError):
    """A pointer's content key differs from the key of the files it stands for."""

    hint = (
        "The source stage is not reproducible; delete the pointer entry from the cache "
        "or rebuild with FF_KANIKO_INFER_CROSS_STAGE_CACHE_KEY off."
    )


@dataclass(slots=True)
class WalkContext:
    """The inputs of a walk over one stage besides the stage itself."""

    gates: Gates
    keyer: Keyer
    pass_name: Pass
    final_keys: Mapping[int, str]
    image_digests: Mapping[str, str]
    memo: MemoizedCache | None = None
    stage_files: StageFiles | None = None


@dataclass(slots=True)
class WalkResult:
    """The per-command decisions of one stage and the state it ends in."""

    instructions: list[InstructionPlan]
    final_key: str | None
    environment: StageEnvironment
    blockers: list[str] = field(default_factory=list)


def walk_stage(
    commands: Sequence[Command],
    chain: CompositeKey | None,
    environment: StageEnvironment,
    context: WalkContext,
) -> WalkResult:
    """Key, look up and decide every command of a stage, in order."""
    gates = context.gates
    probing = context.memo is not None and gates.cache
    stop_cache = False
    blockers: list[str] = []
    planned: list[InstructionPlan] = []

    for position, command in enumerate(commands):
        instruction = command.instruction
        plan = InstructionPlan(
            index=position, origin_stage=command.origin_stage, line=instruction.start_line,
            text=instruction.text, kind=instruction.kind,
            source_stage=command.source_stage, source_image=command.source_image,
        )
        planned.append(plan)
        if instruction.kind == "MAINTAINER":
            # kaniko has no command object for MAINTAINER: it is neither keyed nor run.
            plan.decision = "unkeyed"
            continue

        if chain is not None:
            chain, precomputed = _key_command(command, plan, chain, environment, context, blockers)
            if chain is not None and plan.key is not None:
                stop_cache = _probe(plan, command, context, probing, stop_cache, precomputed)

        environment.apply(instruction)

    final_key = chain.hash() if chain is not None else None
    return WalkResult(instructions=planned, final_key=final_key, environment=environment, blockers=blockers)


def _key_command(
    command: Command,
    plan: InstructionPlan,
    chain: CompositeKey,
    environment: StageEnvironment,
    context: WalkContext,
    blockers: list[str],
) -> tuple[CompositeKey | None, bool]:
    """Append the command's parts to `chain`; return the chain (None once unkeyable) and `precomputed`."""
    precomputed = False
    if not command.cross_stage:
        parts = context.keyer.parts(command.instruction, environment, source=None)
        chain.extend(parts.all)
        _record_parts(plan, parts, key=chain.hash(), source="content" if parts.files else "text")
        return chain, precomputed

    if context.gates.graph:
        source_key = _source_key(command, context)
        graph_chain = key_cross_stage_copy(
            command, plan, chain, environment, keyer=context.keyer, source_key=source_key, blockers=blockers,
        )
        return graph_chain, False

    resolved = None
    if context.gates.inference:
        resolved, precomputed = _infer(command, plan, chain, environment, context, blockers)
    elif context.pass_name != "build":
        blockers.append(BLOCKER_INFERENCE_DISABLED)

    if resolved is not None:
        plan.key = resolved.hash()
        plan.key_source = "inferred"
        if context.pass_name == "build" and not (precomputed and context.gates.skip_cached_stages):
            _verify(command, plan, chain, environment, context)
        _plan_pointer(plan, resolved, context)
        return resolved, precomputed

    if context.pass_name != "build":
        # Without a pointer, the precompute pass cannot read the source stage's files.
        if context.gates.inference and BLOCKER_COPY_FROM_STAGE_UNKEYED not in blockers:
            blockers.append(BLOCKER_COPY_FROM_CONTENT)
        plan.decision = "unkeyed"
        return None, precomputed

    source = _source_files(command, context)
    if source is None:
        blockers.append(BLOCKER_COPY_FROM_CONTENT)
        plan.decision = "unkeyed"
        return None, precomputed
    parts = context.keyer.parts(command.instruction, environment, source=source)
    chain.extend(parts.all)
    _record_parts(plan, parts, key=chain.hash(), source="content")
    _plan_pointer(plan, chain, context)
    return chain, precomputed


def _infer(
    command: Command,
    plan: InstructionPlan,
    chain: CompositeKey,
    environment: StageEnvironment,
    context: WalkContext,
    blockers: list[str],
) -> tuple[CompositeKey | None, bool]:
    """Try the inferred key of a cross-stage COPY; return the content chain from its pointer."""
    source_key = _source_key(command, context)
    if source_key is None:
        blockers.append(BLOCKER_COPY_FROM_STAGE_UNKEYED)
        return None, False

    inferred = chain.copy()
    inferred.add(*context.keyer.instruction_part(command.instruction, environment))
    inferred.add(source_key)
    plan.redirect_key = inferred.hash()
    if context.memo is None:
        return None, False

    precomputed = context.memo.holds(plan.redirect_key)
    target, _ = context.memo.resolve_pointer(plan.redirect_key)
    plan.redirect_hit = target is not None
    if target is None:
        return None, precomputed
    logger.info("cache hit via inferred cross-stage key for %r", command.instruction.text)
    return CompositeKey.resume(target, mode=chain.mode), precomputed


def _source_key(command: Command, context: WalkContext) -> str | None:
    # A source stage's final key, or a source image's manifest digest.
    if command.source_stage is not None:
        return context.final_keys.get(command.source_stage)
    return context.image_digests.get(command.source_image or "")


def _verify(
    command: Command,
    plan: InstructionPlan,
    chain: CompositeKey,
    environment: StageEnvironment,
    context: WalkContext,
) -> None:
    # kaniko asserts that the pointer's content key equals the key of the real files
    # whenever the source stage was built in this run.
    source = _source_files(command, context)
    if source is None:
        return
    content = chain.copy()
    content.extend(context.keyer.parts(command.instruction, environment, source=source).all)
    if content.hash() != plan.key:
        raise PointerMismatchError(
            f"line {command.instruction.start_line}: {command.instruction.text!r}: pointer "
            f"{plan.redirect_key} names content key {plan.key}, but the saved files give {content.hash()}",
        )


def _source_files(command: Command, context: WalkContext) -> tuple[str, str] | None:
    if context.stage_files is None:
        return None
    source: int | str | None = command.source_stage if command.source_stage is not None else command.source_image
    if source is None:
        return None
    return context.stage_files(source)


def _record_parts(plan: InstructionPlan, parts: CommandParts, *, key: str, source: str) -> None:
    plan.key = key
    plan.key_source = source  # type: ignore[assignment]
    plan.parts = parts.all
    plan.labelled_parts = parts.key_parts.parts
    plan.files_hashed = parts.files_hashed
    plan.bytes_hashed = parts.bytes_hashed


def _plan_pointer(plan: InstructionPlan, chain: CompositeKey, context: WalkContext) -> None:
    # After executing a cross-stage COPY, kaniko pushes a pointer from the inferred key
    # to the content state, so the next build can key the COPY without the files.
    if context.gates.inference and plan.redirect_key is not None and plan.redirect_key != plan.key:
        plan.push_pointer = PointerPush(key=plan.redirect_key, target=chain.state())


def _probe(
    plan: InstructionPlan,
    command: Command,
    context: WalkContext,
    probing: bool,
    stop_cache: bool,
    precomputed: bool,
) -> bool:
    """Look the command's key up if kaniko would; return the new stop-cache state."""
    gates = context.gates
    caches = gates.caches_output(command.kind)
    if not caches or not probing:
        plan.decision = "not-probed"
        _plan_push(plan, caches, context)
        return stop_cache
    if stop_cache and not (precomputed and gates.skip_cached_stages):
        plan.decision = "not-probed"
        _plan_push(plan, caches, context)
        return stop_cache

    assert context.memo is not None and plan.key is not None
    result = context.memo.probe(plan.key)
    plan.probed = True
    if result.hit:
        plan.decision = "hit"
        plan.entry = result.entry
        plan.push_pointer = None
        return stop_cache
    plan.decision = "miss"
    plan.expired = result.expired
    _plan_push(plan, caches, context)
    return stop_cache or not gates.probe_after_miss


def _plan_push(plan: InstructionPlan, caches: bool, context: WalkContext) -> None:
    plan.push_layer = caches and context.gates.push
    if not context.gates.push:
        plan.push_pointer = None
