"""kaniko's stage elimination and re-squash after the precompute pass.

A stage that is no target and that no surviving stage uses any more is dropped.
A `COPY --from=<stage>` whose layer the precompute pass found in the cache (its
pointer resolved and its content key hit) no longer counts as a use of the source
stage, which is what lets the source disappear. Afterwards a base left with a
single FROM-dependent and no COPY-dependent is squashed into that child again,
except when the base declares ONBUILD: squashing drops those declarations, and
the child's precomputed keys include them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from cachelab.plan.decisions import StagePlan
from cachelab.plan.stages import PlanStage, StageList

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class EliminationResult:
    """The surviving stages and what happened to the others."""

    stages: list[PlanStage]
    eliminated: list[int] = field(default_factory=list)
    squashed_into: dict[int, int] = field(default_factory=dict)


def _copy_uses(stage: PlanStage, precomputed: StagePlan | None) -> list[int]:
    """Source stages still read by `stage`: its COPY --from commands that did not hit."""
    used: list[int] = []
    for position, command in enumerate(stage.commands):
        if command.source_stage is None:
            continue
        decided = precomputed.instructions[position] if precomputed is not None else None
        # An inferred key is known without the source's files: through a pointer, or by the graph model.
        if decided is not None and decided.decision == "hit" and (decided.redirect_hit or decided.key_source == "inferred"):
            continue
        used.append(command.source_stage)
    return used


def eliminate(stage_list: StageList, precomputed: Mapping[int, StagePlan]) -> EliminationResult:
    """Drop stages whose consumers are all served from the cache, then re-squash chains."""
    stages = [stage.copy() for stage in stage_list.stages]
    by_index = {stage.index: stage for stage in stages}
    from_count = {stage.index: (1 if stage.is_push else 0) for stage in stages}
    copy_count = {stage.index: 0 for stage in stages}
    eliminated: list[int] = []

    for stage in reversed(stages):
        targeted = stage.is_target or stage.is_final or stage.is_push
        if not targeted and from_count[stage.index] == 0 and copy_count[stage.index] == 0:
            eliminated.append(stage.index)
            logger.info("eliminating stage %d (%s): all consumers are served from cache",
                        stage.index, stage.name or stage.base_name)
            continue
        if stage.base_index is not None and stage.base_index in from_count:
            from_count[stage.base_index] += 1
        for source in _copy_uses(stage, precomputed.get(stage.index)):
            if source in copy_count:
                copy_count[source] += 1

    survivors = [stage for stage in stages if stage.index not in eliminated]
    squashed_into: dict[int, int] = {}
    merged: list[PlanStage] = []
    for stage in survivors:
        base = by_index.get(stage.base_index) if stage.base_index is not None else None
        if (
            base is not None
            and base.index not in eliminated
            and from_count[base.index] == 1
            and copy_count[base.index] == 0
            and not base.is_push
        ):
            if base.has_onbuild_declarations:
                logger.info("not squashing stage %d into %d: it declares ONBUILD", base.index, stage.index)
            else:
                current_base = next(item for item in merged if item.index == base.index)
                merged.remove(current_base)
                assert stage_list.merge is not None, "the stage list needs a merge function"
                stage = stage_list.merge(current_base, stage)
                from_count[base.index] = 0
                for absorbed in stage.absorbed:
                    squashed_into[absorbed] = stage.index
                logger.info("squashing stage %d into %d", base.index, stage.index)
        merged.append(stage)

    for stage in merged:
        stage.from_dependents = from_count.get(stage.index, 0)
        stage.copy_dependents = copy_count.get(stage.index, 0)
    kept = [
        stage for stage in merged
        if stage.is_target or stage.is_final or stage.is_push
        or stage.from_dependents > 0 or stage.copy_dependents > 0
    ]
    return EliminationResult(stages=kept, eliminated=sorted(eliminated), squashed_into=squashed_into)
