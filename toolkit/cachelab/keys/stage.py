"""Walk one stage's instructions and compute each instruction's cache key.

This is the plain key chain of one stage without any cache decision: seed (or
resume), then for every instruction its parts, the key after them, and the
ENV/ARG effects for the instructions that follow. Cross-stage inference, probes
and elimination belong to the planner.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cachelab.dockerfile.model import Instruction
from cachelab.keys.buildargs import StageEnv
from cachelab.keys.composite import CompositeKey, Mode
from cachelab.keys.dockerignore import FileContext
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.parts import KeyParts, SourceRoot, instruction_parts


@dataclass(frozen=True, slots=True)
class InstructionKey:
    """One instruction's parts and the cache key after them (None for MAINTAINER)."""

    instruction: Instruction
    parts: KeyParts
    key: str | None


def key_mode(options: KanikoOptions) -> Mode:
    """Return the composite key mode the options select."""
    return "rolling" if options.rolling_cache_key else "legacy"


def seeded_key(seed: str, options: KanikoOptions) -> CompositeKey:
    """Start a stage on a remote base or scratch: one part, the seed `sha256:<hex>`."""
    return CompositeKey.new(seed, mode=key_mode(options))


def resumed_key(base_final_key: str, options: KanikoOptions) -> CompositeKey:
    """Start a stage on an earlier stage of the same Dockerfile from that stage's final key."""
    return CompositeKey.resume(base_final_key, mode=key_mode(options))


def key_instructions(
    composite: CompositeKey,
    instructions: Iterable[Instruction],
    env_state: StageEnv,
    *,
    options: KanikoOptions,
    context: FileContext | str | os.PathLike[str] | None = None,
    source_root: Callable[[Instruction], SourceRoot | None] | None = None,
) -> list[InstructionKey]:
    """Append every instruction's parts to `composite` and return the key after each.

    `composite` and `env_state` are updated in place, so afterwards
    `composite.hash()` is the stage's final key. `source_root` maps a
    `COPY --from` instruction to where its source stage's files are.
    """
    results: list[InstructionKey] = []
    for instruction in instructions:
        if instruction.kind == "MAINTAINER":
            results.append(InstructionKey(instruction, KeyParts(instruction, ()), None))
            continue
        root = source_root(instruction) if source_root is not None else None
        parts = instruction_parts(
            instruction, env_state, options=options, context=context,
            source_root_for_from=root,
        )
        composite.add(*parts.values)
        results.append(InstructionKey(instruction, parts, composite.hash()))
        env_state.apply(instruction)
    return results
