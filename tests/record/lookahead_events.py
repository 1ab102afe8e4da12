"""Events of a one-build lookahead recording, for the tests of the 0-versus-NA rules."""

from __future__ import annotations

from datetime import datetime

from cachelab.events import BuildStarted, InstructionRecorded, StageRecorded


def started(engine: str = "cachelab") -> BuildStarted:
    return BuildStarted(
        build_id="b1", run_id="r", engine=engine, engine_version="1", strategy="lookahead", profile=None,
        flags=None, dockerfile_id="d", target=None, started_at=datetime(2026, 1, 1),
    )


def stage(index: int, action: str) -> StageRecorded:
    return StageRecorded(
        build_id="b1", stage_index=index, stage_name=None, base="busybox", base_kind="image", action=action,
        unpacked=action == "built", final_key=None, key_a_priori=None,
    )


def instruction(stage_index: int, decision: str) -> InstructionRecorded:
    return InstructionRecorded(
        build_id="b1", stage_index=stage_index, instruction_index=0, line=2, instruction="RUN true",
        kind="RUN", cache_key="k", key_source="text", redirect_key=None, probed=decision != "skipped",
        decision=decision, a_priori=True,
    )
