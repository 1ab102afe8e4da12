"""The planner's view of the stages kaniko builds.

The front end (`cachelab.dockerfile.graph`) selects live stages, injects ONBUILD
triggers, resolves `--from` and squashes FROM chains. This module holds the result
in the form the planner walks: for each built stage, its commands with the stage
each was written in and the resolved cross-stage source, plus the dependency counts
that elimination and re-squash update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from cachelab.dockerfile.model import Instruction
from cachelab.plan.decisions import BaseKind


@dataclass(frozen=True, slots=True)
class Command:
    """One instruction of a planned stage.

    `source_stage` is the resolved stage index of a `COPY --from=<stage>`;
    `source_image` is the reference of a `COPY --from=<image>`. `source_paths`
    are a `COPY --from=<stage>`'s sources as the source stage saves them
    (`cachelab.plan.dependencies`).
    """

    instruction: Instruction
    origin_stage: int
    source_stage: int | None = None
    source_image: str | None = None
    source_paths: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.instruction.kind

    @property
    def cross_stage(self) -> bool:
        return self.source_stage is not None or self.source_image is not None


@dataclass(slots=True)
class PlanStage:
    """A stage as kaniko builds it, after target selection and FROM-chain squash.

    `index` is the index as written of the stage that survives a squash (the
    child); `absorbed` lists the bases merged into it. `base_name` is the FROM word
    after meta-ARG expansion, shown in plans; for a local base it is the base
    stage's name or index as written.
    """

    index: int
    name: str | None
    base_kind: BaseKind
    base_name: str
    base_ref: str | None  # remote reference; None for a local base or scratch
    base_index: int | None  # local base stage index
    commands: list[Command]
    absorbed: tuple[int, ...] = ()
    platform: str | None = None
    is_target: bool = False
    is_final: bool = False
    is_push: bool = False
    from_dependents: int = 0
    copy_dependents: int = 0
    save_files: tuple[str, ...] = ()
    onbuild_from_image: bool = False  # triggers came from the remote base's config
    kaniko_stage: Any = field(default=None, repr=False)  # the front end's KanikoStage

    @property
    def has_onbuild_declarations(self) -> bool:
        return any(command.kind == "ONBUILD" for command in self.commands)

    @property
    def save_stage(self) -> bool:
        return self.from_dependents > 0 and not self.is_final

    def copy(self) -> PlanStage:
        return replace(self, commands=list(self.commands))


@dataclass(slots=True)
class StageList:
    """The built stages in build order, plus the stages dropped before building."""

    stages: list[PlanStage]
    unused: list[int] = field(default_factory=list)
    squashed_into: dict[int, int] = field(default_factory=dict)  # absorbed index -> child index
    names: dict[int, str | None] = field(default_factory=dict)  # every stage as written
    bases: dict[int, str] = field(default_factory=dict)  # FROM word of every stage as written
    # Every stage as written: base kind, expanded image reference, base stage index.
    written_bases: dict[int, tuple[BaseKind, str | None, int | None]] = field(default_factory=dict)
    meta_args: dict[str, str] = field(default_factory=dict)  # meta ARG values after --build-arg
    # Merges a base into its only child again after elimination (the front end's squash).
    merge: Callable[[PlanStage, PlanStage], PlanStage] | None = field(default=None, repr=False)

    def by_index(self, index: int) -> PlanStage:
        for stage in self.stages:
            if stage.index == index:
                return stage
        raise KeyError(index)
