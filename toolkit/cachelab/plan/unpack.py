"""kaniko's single-stage lookahead: whether a stage needs its base filesystem.

A stage unpacks its base when a command that will execute needs the filesystem
(an uncached RUN, COPY, ADD or WORKDIR other than `/`), or when a later stage
copies files from it (they are saved from the built filesystem). Otherwise only
the base manifest and config were fetched, and the cached layers are extracted
onto an empty root.
"""

from __future__ import annotations

from cachelab.plan.decisions import StagePlan, needs_filesystem
from cachelab.plan.stages import PlanStage


def decide_unpack(stage: PlanStage, plan: StagePlan) -> tuple[bool, str | None]:
    """Return whether `stage` unpacks its base and the reason kaniko logs for it."""
    for instruction in plan.instructions:
        if instruction.requires_unpacked_fs:
            return True, f"cmd {instruction.text}"
    if stage.save_files:
        return True, "files are saved for a later COPY --from"
    return False, None


def unpacks_before_planning(stage: PlanStage, *, cache: bool) -> bool:
    """Return whether `stage` unpacks its base whatever its cache lookups find.

    Saved files for a later COPY --from always need the base. Without --cache
    nothing hits, so any instruction that needs the filesystem does too. With it,
    a hit may spare the base, which only the stage's own plan can tell.
    """
    if stage.save_files:
        return True
    if cache:
        return False
    return any(needs_filesystem(command.kind, command.instruction.text) for command in stage.commands)
