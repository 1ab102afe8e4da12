"""The facts an ingester reads about one kaniko build, and the events they become.

The trace reader and the log reader fill the same `KanikoRun`, so both produce the
same rows for the same build. Only the log states bases and eliminated or squashed
stages, so a trace can take these stage facts from the log of the same build.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from cachelab.events import (
    BuildFinished,
    BuildStarted,
    Event,
    InstructionRecorded,
    SpanRecorded,
    StageRecorded,
)

logger = logging.getLogger(__name__)

ENGINE = "kaniko"

# Feature flags that choose kaniko's cache strategy (osscontainertools fork, v1.28.3).
LOOKAHEAD_FLAG = "FF_KANIKO_CACHE_LOOKAHEAD"
INFER_FLAG = "FF_KANIKO_INFER_CROSS_STAGE_CACHE_KEY"
PROBE_AFTER_MISS_FLAG = "FF_KANIKO_CACHE_PROBE_AFTER_MISS"


@dataclass
class KanikoStage:
    index: int
    base: str | None = None
    base_kind: str | None = None
    action: str = "built"
    unpacked: bool | None = None
    squashed_into: int | None = None
    name: str | None = None


@dataclass
class KanikoInstruction:
    stage_index: int
    index: int
    text: str
    line: int | None = None
    cache_key: str | None = None
    redirect_key: str | None = None
    key_source: str | None = None
    probed: bool = False
    decision: str = "not-probed"
    # Whether kaniko pushed a layer or a pointer for this command; None without --cache.
    layer_pushed: bool | None = None
    pointer_pushed: bool | None = None

    @property
    def kind(self) -> str:
        return self.text.split(None, 1)[0].upper() if self.text.strip() else ""


@dataclass
class KanikoRun:
    """One kaniko build as read from its trace, log or benchmark file.

    `span_names` maps a span id to kaniko's own name of that span, which the spans
    table keeps in its `engine_name` column.
    """

    build_id: str
    started_at: datetime | None
    engine_version: str = "unknown"
    flags: dict[str, str] = field(default_factory=dict)
    cache_enabled: bool | None = False
    dockerfile_id: str | None = None
    target: str | None = None
    wall_s: float | None = None
    # Whether the source shows that the build ended, also where it gives no wall time.
    finished: bool = False
    outcome: str = "ok"
    error: str | None = None
    image_digest: str | None = None
    cache_push_errors: int | None = None
    # Failed cache lookups and pushes as far as the source shows them, None when it cannot tell.
    cache_failures: int | None = None
    # kaniko's registry transport counters (`kaniko.registry.*` on the build span),
    # by name without the prefix, e.g. `requests` or `sockets.opened`.
    registry_counters: dict[str, int] = field(default_factory=dict)
    stages: dict[int, KanikoStage] = field(default_factory=dict)
    instructions: list[KanikoInstruction] = field(default_factory=list)
    spans: list[SpanRecorded] = field(default_factory=list)
    span_names: dict[str, str] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        return self.flags.get(name, "false").lower() in ("1", "t", "true")

    @property
    def strategy(self) -> str | None:
        """Return the cachelab strategy name, or None if the source does not show whether `--cache` was on."""
        if self.cache_enabled is None:
            return None
        if not self.cache_enabled:
            return "no-cache"
        return "lookahead" if self.flag(LOOKAHEAD_FLAG) else "per-stage"

    def stage(self, index: int) -> KanikoStage:
        """Return the stage with `index`, adding it as built if it is new."""
        return self.stages.setdefault(index, KanikoStage(index))

    def take_stages_from(self, other: KanikoRun) -> None:
        """Replace the stage facts with those of `other`, a reading of the same build.

        A log states bases, eliminated and squashed stages, which a trace has no span
        for. Whether a stage unpacked stays as this run measured it when known.
        """
        merged: dict[int, KanikoStage] = {}
        for index, stage in other.stages.items():
            own = self.stages.get(index)
            unpacked = own.unpacked if own is not None and own.unpacked is not None else stage.unpacked
            merged[index] = KanikoStage(
                index=index, base=stage.base, base_kind=stage.base_kind, action=stage.action,
                unpacked=unpacked, squashed_into=stage.squashed_into, name=stage.name,
            )
        for index, stage in self.stages.items():
            merged.setdefault(index, stage)
        self.stages = dict(sorted(merged.items()))
        redirects = {(i.stage_index, i.index): i for i in other.instructions}
        for instruction in self.instructions:
            match = redirects.get((instruction.stage_index, instruction.index))
            if match is not None and match.text == instruction.text and instruction.redirect_key is None:
                instruction.redirect_key = match.redirect_key

    def first_stage_with_foreign_commands(self) -> int | None:
        """Return the lowest stage index whose commands may include some written in another stage.

        A squash runs the absorbed stage's commands in a stage with a higher
        index, so every stage below the lowest squashed one runs only its own
        commands. A stage index with no stage fact (a trace read without its log)
        may be a squashed stage too. None means that every stage runs only its
        own commands. Neither the log nor the trace states how many of a stage's
        commands came from the stage it absorbed, so the written stage of the
        commands from the returned index up is unknown.
        """
        highest = max([*self.stages, *(instruction.stage_index for instruction in self.instructions)], default=-1)
        uncertain = [
            index
            for index in range(highest + 1)
            if index not in self.stages or self.stages[index].action == "squashed"
        ]
        return min(uncertain, default=None)

    def flags_text(self) -> str | None:
        if not self.flags:
            return None
        return "\n".join(f"{name}={value}" for name, value in sorted(self.flags.items()))

    def events(
        self, *, run_id: str = "ingest", scenario: str | None = None, step: int | None = None
    ) -> list[Event]:
        """Return the events of this build, in the order a builder would emit them."""
        events: list[Event] = [
            BuildStarted(
                build_id=self.build_id,
                run_id=run_id,
                engine=ENGINE,
                engine_version=self.engine_version,
                strategy=self.strategy,
                profile=None,
                flags=self.flags_text(),
                dockerfile_id=self.dockerfile_id,
                target=self.target,
                # NOTE: a log without timestamps gives no start instant, so the column is NA.
                started_at=self.started_at,
                scenario=scenario,
                step=step,
            )
        ]
        for stage in sorted(self.stages.values(), key=lambda s: s.index):
            events.append(
                StageRecorded(
                    build_id=self.build_id,
                    stage_index=stage.index,
                    stage_name=stage.name,
                    # A trace alone does not name a stage's base, so both columns are NA.
                    base=stage.base,
                    base_kind=stage.base_kind,
                    action=stage.action,
                    unpacked=stage.unpacked,
                    final_key=None,
                    key_a_priori=None,
                    squashed_into=stage.squashed_into,
                )
            )
        mixed_from = self.first_stage_with_foreign_commands()
        for instruction in sorted(self.instructions, key=lambda i: (i.stage_index, i.index)):
            own_stage = mixed_from is None or instruction.stage_index < mixed_from
            events.append(
                InstructionRecorded(
                    build_id=self.build_id,
                    stage_index=instruction.stage_index,
                    instruction_index=instruction.index,
                    line=instruction.line,
                    instruction=instruction.text,
                    kind=instruction.kind,
                    cache_key=instruction.cache_key,
                    key_source=instruction.key_source,
                    redirect_key=instruction.redirect_key,
                    probed=instruction.probed,
                    decision=instruction.decision,
                    a_priori=None,
                    origin_stage_index=instruction.stage_index if own_stage else None,
                )
            )
        events.extend(self.spans)
        if self.finished or self.wall_s is not None:
            events.append(
                BuildFinished(
                    build_id=self.build_id,
                    wall_s=self.wall_s,
                    outcome=self.outcome,
                    error=self.error,
                    image_digest=self.image_digest,
                )
            )
        return events
