"""StageRecorded and InstructionRecorded events from the planner's decisions."""

from __future__ import annotations

import hashlib

from cachelab.events import EventSink, InstructionRecorded, StageRecorded
from cachelab.events.keyparts import format_key_part
from cachelab.plan.decisions import StagePlan


def record_stage(
    sink: EventSink, build_id: str, plan: StagePlan, *, unpacked: bool | None, context_dir: str | None = None,
) -> None:
    """Emit the stage's event, then one per instruction (`skipped` decisions when the stage is not built).

    File key parts under `context_dir` are recorded relative to it, so builds of
    copies of one context in different directories record the same parts. An
    env part keeps its name but records a digest of its value, because build
    arguments may carry secrets and the tables are shared.
    """
    sink.emit(StageRecorded(
        build_id=build_id,
        stage_index=plan.index,
        stage_name=plan.name,
        base=plan.base_ref or "scratch",
        base_kind=plan.base_kind,
        action=plan.action,
        unpacked=unpacked,
        final_key=plan.final_key,
        key_a_priori=plan.key_a_priori,
        key_blockers=tuple(plan.key_blockers),
        key_risks=tuple(plan.key_risks),
        squashed_into=plan.squashed_into,
    ))
    for instruction in plan.instructions:
        sink.emit(InstructionRecorded(
            build_id=build_id,
            stage_index=plan.index,
            instruction_index=instruction.index,
            origin_stage_index=instruction.origin_stage,
            line=instruction.line,
            instruction=instruction.text,
            kind=instruction.kind,
            cache_key=instruction.key,
            key_source=instruction.key_source,
            redirect_key=instruction.redirect_key,
            probed=instruction.probed,
            decision=instruction.decision if plan.built else "skipped",
            a_priori=instruction.a_priori,
            files_hashed=instruction.files_hashed,
            bytes_hashed=instruction.bytes_hashed,
            key_parts=tuple(
                format_key_part(part.kind, _recorded_value(part.kind, part.value), _relative(part.path, context_dir))
                for part in instruction.labelled_parts
            ),
        ))


def _recorded_value(kind: str, value: str) -> str:
    if kind != "env":
        return value
    name, equals, text = value.partition("=")
    if not equals:
        return value
    return f"{name}=sha256:{hashlib.sha256(text.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}"


def _relative(path: str | None, context_dir: str | None) -> str | None:
    if path is None or context_dir is None:
        return path
    prefix = context_dir.rstrip("/") + "/"
    if path.startswith(prefix):
        return path[len(prefix):]
    return "." if path == context_dir.rstrip("/") else path
