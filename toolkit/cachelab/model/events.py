"""Events of a simulated build, so the model fills the same four tables as the builder.

Modelled phases are laid end to end from the build's start: the lookahead pass
first, then each built stage in build order, each stage's base phases, its
instructions and its saves. Builds carry `engine="model"`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from cachelab import __version__
from cachelab.events import (
    BuildFinished,
    BuildStarted,
    Event,
    InstructionRecorded,
    SpanRecorded,
    StageRecorded,
)
from cachelab.model.simulate import PhaseCost, SimulatedBuild

ENGINE = "model"


@dataclass(frozen=True, slots=True)
class BuildLabels:
    """Identifiers and labels of one simulated build in the builds table."""

    build_id: str
    run_id: str
    dockerfile_id: str
    scenario: str
    step: int
    started_at: datetime
    repeat: int = 0


def simulated_events(build: SimulatedBuild, labels: BuildLabels) -> Iterator[Event]:
    """Yield BuildStarted, the spans, a StageRecorded per stage as written with its instructions, BuildFinished."""
    build_id = labels.build_id
    yield BuildStarted(
        build_id=build_id, run_id=labels.run_id, engine=ENGINE, engine_version=__version__,
        strategy=build.strategy, profile=build.profile, flags=None, dockerfile_id=labels.dockerfile_id,
        target=None, started_at=labels.started_at, scenario=labels.scenario, step=labels.step,
        repeat=labels.repeat,
    )
    numbers = itertools.count()
    root = f"{build_id}/{next(numbers)}"
    clock = 0.0
    spans: list[SpanRecorded] = []

    def add(phase: PhaseCost, parent: str, stage: int | None, instruction: int | None) -> None:
        nonlocal clock
        spans.append(SpanRecorded(
            build_id=build_id, span_id=f"{build_id}/{next(numbers)}", parent_id=parent,
            phase=phase.phase, start_s=clock, end_s=clock + phase.seconds, stage_index=stage,
            instruction_index=instruction, bytes=phase.bytes, requests=phase.requests,
        ))
        clock += phase.seconds

    for phase in build.precompute:
        add(phase, root, None, None)
    for index, cost in build.costs.items():
        stage_span = f"{build_id}/{next(numbers)}"
        stage_start = clock
        for phase in cost.before:
            add(phase, stage_span, index, None)
        for instruction_cost in cost.instructions:
            instruction_span = f"{build_id}/{next(numbers)}"
            instruction_start = clock
            for phase in instruction_cost.phases:
                add(phase, instruction_span, index, instruction_cost.index)
            spans.append(SpanRecorded(
                build_id=build_id, span_id=instruction_span, parent_id=stage_span, phase="instruction",
                start_s=instruction_start, end_s=clock, stage_index=index,
                instruction_index=instruction_cost.index,
            ))
        for phase in cost.after:
            add(phase, stage_span, index, None)
        spans.append(SpanRecorded(
            build_id=build_id, span_id=stage_span, parent_id=root, phase="stage",
            start_s=stage_start, end_s=clock, stage_index=index,
        ))
    spans.append(SpanRecorded(build_id=build_id, span_id=root, parent_id=None, phase="build", start_s=0.0, end_s=clock))
    yield from spans

    for plan in build.plans:
        yield StageRecorded(
            build_id=build_id, stage_index=plan.index, stage_name=plan.name,
            base=plan.base_ref or "scratch", base_kind=plan.base_kind, action=plan.action,
            unpacked=plan.should_unpack if plan.built else False, final_key=plan.final_key,
            key_a_priori=plan.key_a_priori, key_blockers=tuple(plan.key_blockers),
            key_risks=tuple(plan.key_risks), squashed_into=plan.squashed_into,
        )
        for instruction in plan.instructions:
            yield InstructionRecorded(
                build_id=build_id, stage_index=plan.index, instruction_index=instruction.index,
                origin_stage_index=instruction.origin_stage,
                line=instruction.line, instruction=instruction.text, kind=instruction.kind,
                cache_key=instruction.key, key_source=instruction.key_source,
                redirect_key=instruction.redirect_key, probed=instruction.probed,
                decision=instruction.decision if plan.built else "skipped", a_priori=instruction.a_priori,
                files_hashed=instruction.files_hashed, bytes_hashed=instruction.bytes_hashed,
            )
    yield BuildFinished(build_id=build_id, wall_s=clock, outcome="ok")
