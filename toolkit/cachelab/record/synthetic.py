"""Small, deterministic event streams for tests, examples and notebooks.

`synthetic_build` lays out one build's spans back to back on a cursor. Phase
lengths are powers of two, so sums of them are exact in floating point and a test
can compare derived columns with `==`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cachelab.events import (
    BuildFinished,
    BuildStarted,
    Event,
    InstructionRecorded,
    SpanRecorded,
    StageRecorded,
)


@dataclass(frozen=True)
class SyntheticTimings:
    """Length in seconds and bytes of each synthetic phase, before `scale`."""

    resolve_s: float = 0.25
    download_s: float = 1.0
    download_bytes: int = 4096
    unpack_s: float = 0.5
    unpack_bytes: int = 16384
    probe_s: float = 0.125
    execute_s: float = 1.0
    snapshot_s: float = 0.25
    push_layer_s: float = 0.5
    push_layer_bytes: int = 1024
    push_image_s: float = 0.25
    push_image_bytes: int = 512


@dataclass(frozen=True)
class SyntheticStage:
    """One stage of a synthetic build.

    The first `hits` instructions hit the cache and the rest miss. A built stage
    whose instructions all hit skips its base download and unpack, as kaniko's
    per-stage cache does. Stages with another action get no spans, and their
    instructions are recorded as `skipped`.
    """

    action: str = "built"
    instructions: int = 2
    hits: int = 0
    name: str | None = None
    base: str = "busybox:latest"
    base_kind: str = "image"
    key_blockers: tuple[str, ...] = ()
    key_risks: tuple[str, ...] = ()


class _Cursor:
    def __init__(self, build_id: str, scale: float) -> None:
        self.build_id = build_id
        self.scale = scale
        self.now = 0.0
        self.spans: list[SpanRecorded] = []
        self._next_id = 0

    def new_id(self) -> str:
        self._next_id += 1
        return f"{self.build_id}-s{self._next_id}"

    def leaf(
        self,
        phase: str,
        seconds: float,
        parent_id: str | None,
        **fields: int | None,
    ) -> None:
        """Record a span of `seconds` (times the scale) starting now, and move past it."""
        start = self.now
        self.now += seconds * self.scale
        self.close(self.new_id(), phase, start, parent_id, **fields)

    def close(
        self,
        span_id: str,
        phase: str,
        start: float,
        parent_id: str | None,
        **fields: int | None,
    ) -> None:
        """Record span `span_id` from `start` to now.

        `fields` are the optional SpanRecorded fields: stage_index,
        instruction_index, bytes and requests.
        """
        self.spans.append(
            SpanRecorded(
                build_id=self.build_id,
                span_id=span_id,
                parent_id=parent_id,
                phase=phase,
                start_s=start,
                end_s=self.now,
                **fields,  # type: ignore[arg-type]
            )
        )


def synthetic_build(
    build_id: str = "build-1",
    *,
    stages: tuple[SyntheticStage, ...] = (SyntheticStage(), SyntheticStage(hits=2)),
    strategy: str = "lookahead",
    dockerfile_id: str = "app/Dockerfile",
    scenario: str | None = "warm-unchanged",
    step: int | None = 0,
    repeat: int | None = 0,
    run_id: str = "run-1",
    started_at: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    scale: float = 1.0,
    timings: SyntheticTimings = SyntheticTimings(),
    outcome: str = "ok",
) -> list[Event]:
    """Return the events of one build of `stages`, with every phase `scale` times longer."""
    events: list[Event] = [
        BuildStarted(
            build_id=build_id,
            run_id=run_id,
            engine="model",
            engine_version="synthetic",
            strategy=strategy,
            profile="default",
            flags=None,
            dockerfile_id=dockerfile_id,
            target=None,
            started_at=started_at,
            scenario=scenario,
            step=step,
            repeat=repeat,
            host="synthetic-host",
            cpu_count=4,
            python_version="3.11",
        )
    ]
    cursor = _Cursor(build_id, scale)
    root_id = cursor.new_id()

    for stage_index, stage in enumerate(stages):
        events.append(_stage_event(build_id, stage_index, stage))
        events.extend(_instruction_events(build_id, stage_index, stage))
        if stage.action == "built":
            _stage_spans(cursor, root_id, stage_index, stage, timings)

    cursor.leaf(
        "push-image",
        timings.push_image_s,
        root_id,
        bytes=timings.push_image_bytes,
        requests=2,
    )
    cursor.close(root_id, "build", 0.0, None)
    events.extend(cursor.spans)
    events.append(
        BuildFinished(
            build_id=build_id,
            wall_s=cursor.now,
            outcome=outcome,
            error="synthetic failure" if outcome == "error" else None,
            image_digest="sha256:" + hashlib.sha256(build_id.encode()).hexdigest(),
        )
    )
    return events


def _stage_event(build_id: str, stage_index: int, stage: SyntheticStage) -> StageRecorded:
    return StageRecorded(
        build_id=build_id,
        stage_index=stage_index,
        stage_name=stage.name,
        base=stage.base,
        base_kind=stage.base_kind,
        action=stage.action,
        unpacked=stage.action == "built" and stage.hits < stage.instructions,
        final_key=format(stage_index, "064x"),
        key_a_priori=not stage.key_blockers,
        key_blockers=stage.key_blockers,
        key_risks=stage.key_risks,
    )


def _instruction_events(
    build_id: str, stage_index: int, stage: SyntheticStage
) -> list[InstructionRecorded]:
    events = []
    for index in range(stage.instructions):
        built = stage.action == "built"
        if not built:
            decision = "skipped"
        elif index < stage.hits:
            decision = "hit"
        else:
            decision = "miss"
        events.append(
            InstructionRecorded(
                build_id=build_id,
                stage_index=stage_index,
                instruction_index=index,
                origin_stage_index=stage_index,
                line=2 + index,
                instruction=f"RUN step-{stage_index}-{index}",
                kind="RUN",
                cache_key=format(stage_index * 1000 + index, "064x"),
                key_source="text",
                redirect_key=None,
                probed=built,
                decision=decision,
                a_priori=True,
            )
        )
    return events


def _stage_spans(
    cursor: _Cursor,
    root_id: str,
    stage_index: int,
    stage: SyntheticStage,
    timings: SyntheticTimings,
) -> None:
    stage_id = cursor.new_id()
    stage_start = cursor.now
    cursor.leaf("resolve-base", timings.resolve_s, stage_id, stage_index=stage_index, requests=2)
    if stage.hits < stage.instructions:
        cursor.leaf(
            "download",
            timings.download_s,
            stage_id,
            stage_index=stage_index,
            bytes=timings.download_bytes,
            requests=1,
        )
        cursor.leaf(
            "unpack",
            timings.unpack_s,
            stage_id,
            stage_index=stage_index,
            bytes=timings.unpack_bytes,
        )

    for index in range(stage.instructions):
        instruction_id = cursor.new_id()
        instruction_start = cursor.now
        where = {"stage_index": stage_index, "instruction_index": index}
        cursor.leaf("probe-cache", timings.probe_s, instruction_id, requests=1, **where)
        if index >= stage.hits:
            cursor.leaf("execute", timings.execute_s, instruction_id, **where)
            cursor.leaf("snapshot", timings.snapshot_s, instruction_id, **where)
            cursor.leaf(
                "push-layer",
                timings.push_layer_s,
                instruction_id,
                bytes=timings.push_layer_bytes,
                requests=2,
                **where,
            )
        cursor.close(instruction_id, "instruction", instruction_start, stage_id, **where)

    cursor.close(stage_id, "stage", stage_start, root_id, stage_index=stage_index)
