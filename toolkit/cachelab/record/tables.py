"""Turn a stream of build events into the builds, stages, instructions and spans tables.

Times, bytes and request counts of stages and instructions are derived from spans:
a phase column such as `download_s` is the summed length of that stage's spans of
the matching phase. A span nested inside a span of the same phase is not counted
again. When no span of a build carries a phase (or requests), the source did not
measure it, so the column is NA for every stage of that build. When some spans
do, a stage without such spans gets 0. Finished builds of
`schema.PHASE_TIMING_ENGINES` time every phase they run, so their time columns
are 0 without spans even when no row of the build ran the phase. Byte columns
follow the same rule, except for finished builds of
`schema.BYTE_COUNTING_ENGINES`: these count every transfer, so a row without
transfers gets 0 and a row with a span of unknown size gets NA. The builds column `cache_failures` follows the same rule with
`schema.CACHE_FAILURE_ENGINES` (see `cachelab.record.cache_failures`). A span
without a stage or instruction index takes it from its nearest ancestor that
has one, in the spans table too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from cachelab.events import (
    BuildFinished,
    BuildStarted,
    Event,
    InstructionRecorded,
    SpanRecorded,
    StageRecorded,
)
from cachelab.events.failures import count_failed_operations
from cachelab.record import schema
from cachelab.record.errors import EventStreamError
from cachelab.record.origins import fill_origins

logger = logging.getLogger(__name__)


@dataclass
class _BuildEvents:
    started: BuildStarted | None = None
    finished: BuildFinished | None = None
    stages: list[StageRecorded] = field(default_factory=list)
    instructions: list[InstructionRecorded] = field(default_factory=list)
    spans: list[SpanRecorded] = field(default_factory=list)


def tables_from_events(events: Iterable[Event]) -> dict[str, pd.DataFrame]:
    """Return the four tables, keyed by table name, for the builds in `events`.

    Raises `EventStreamError` when a build has no `BuildStarted`, or a build, stage,
    instruction or span is reported twice.
    """
    builds = _group_by_build(events)
    rows: dict[str, list[dict[str, object]]] = {name: [] for name in schema.TABLES}
    for build_id, grouped in builds.items():
        if grouped.started is None:
            raise EventStreamError(
                f"build {build_id!r} has events but no BuildStarted event",
                hint="Emit BuildStarted before any other event of a build.",
            )
        grouped.spans = _inherit_indices(grouped.spans)
        spans = _SpanIndex(
            grouped.spans,
            counts_all_bytes=_finished_build_of(grouped, schema.BYTE_COUNTING_ENGINES),
            times_all_phases=_finished_build_of(grouped, schema.PHASE_TIMING_ENGINES),
        )
        stage_rows = [_stage_row(stage, grouped, spans) for stage in grouped.stages]
        rows["stages"].extend(stage_rows)
        rows["instructions"].extend(
            _instruction_row(instruction, spans) for instruction in grouped.instructions
        )
        rows["spans"].extend(_span_row(span) for span in grouped.spans)
        rows["builds"].append(_build_row(grouped, spans))

    tables = {name: schema.table_from_rows(name, table_rows) for name, table_rows in rows.items()}
    tables["instructions"] = fill_origins(tables["instructions"], tables["stages"])
    return tables


def _group_by_build(events: Iterable[Event]) -> dict[str, _BuildEvents]:
    builds: dict[str, _BuildEvents] = {}
    for event in events:
        grouped = builds.setdefault(event.build_id, _BuildEvents())
        if isinstance(event, BuildStarted):
            if grouped.started is not None:
                raise _duplicate(event.build_id, "BuildStarted")
            grouped.started = event
        elif isinstance(event, BuildFinished):
            if grouped.finished is not None:
                raise _duplicate(event.build_id, "BuildFinished")
            grouped.finished = event
        elif isinstance(event, StageRecorded):
            grouped.stages.append(event)
        elif isinstance(event, InstructionRecorded):
            grouped.instructions.append(event)
        elif isinstance(event, SpanRecorded):
            grouped.spans.append(event)
        else:
            raise TypeError(f"not a cachelab event: {event!r}")

    for build_id, grouped in builds.items():
        _check_unique(build_id, "stage", [s.stage_index for s in grouped.stages])
        _check_unique(
            build_id,
            "instruction",
            [(i.stage_index, i.instruction_index) for i in grouped.instructions],
        )
        _check_unique(build_id, "span", [s.span_id for s in grouped.spans])
    return builds


def _duplicate(build_id: str, event_type: str) -> EventStreamError:
    return EventStreamError(
        f"build {build_id!r} has more than one {event_type} event",
        hint="Give every build its own build_id.",
    )


def _check_unique(build_id: str, entity: str, keys: list[object]) -> None:
    seen: set[object] = set()
    for key in keys:
        if key in seen:
            raise EventStreamError(
                f"build {build_id!r} reports {entity} {key!r} more than once",
                hint=f"Emit one event per {entity}.",
            )
        seen.add(key)


def _finished_build_of(grouped: _BuildEvents, engines: frozenset[str]) -> bool:
    # An unfinished build may have stopped before it reported all of its spans.
    started = grouped.started
    assert started is not None
    return grouped.finished is not None and started.engine in engines


class _SpanIndex:
    """The spans of one build, with the sums the stage and instruction rows need.

    With `counts_all_bytes`, the build's spans report every transfer, so byte
    sums are 0 without spans and NA when a span's size is unknown. With
    `times_all_phases`, the build has a span for every phase it ran, so time
    sums are 0 without spans.
    """

    def __init__(
        self, spans: list[SpanRecorded], *, counts_all_bytes: bool = False, times_all_phases: bool = False
    ) -> None:
        self.counts_all_bytes = counts_all_bytes
        self.times_all_phases = times_all_phases
        by_id = {span.span_id: span for span in spans}
        # A span inside a span of the same phase is already part of the outer one.
        self.counted = [span for span in spans if not _has_same_phase_ancestor(span, by_id)]
        self.phases = {span.phase for span in self.counted}
        self.phases_with_bytes = {s.phase for s in self.counted if s.bytes is not None}
        self.has_requests = any(span.requests is not None for span in self.counted)
        self._by_stage: dict[int | None, list[SpanRecorded]] = defaultdict(list)
        self._by_instruction: dict[tuple[int | None, int], list[SpanRecorded]] = defaultdict(list)
        for span in self.counted:
            self._by_stage[span.stage_index].append(span)
            if span.instruction_index is not None:
                key = (span.stage_index, span.instruction_index)
                self._by_instruction[key].append(span)

    def of_stage(self, stage_index: int) -> list[SpanRecorded]:
        """Return the counted spans of a stage, its instructions' spans included."""
        return self._by_stage.get(stage_index, [])

    def of_instruction(self, stage_index: int, instruction_index: int) -> list[SpanRecorded]:
        """Return the counted spans of one instruction."""
        return self._by_instruction.get((stage_index, instruction_index), [])

    def seconds(self, spans: list[SpanRecorded], phases: tuple[str, ...]) -> float | None:
        if not self.times_all_phases and not self.phases.intersection(phases):
            return None
        return sum(s.end_s - s.start_s for s in spans if s.phase in phases)

    def bytes(self, spans: list[SpanRecorded], phases: tuple[str, ...]) -> int | None:
        moved = [span.bytes for span in spans if span.phase in phases]
        if self.counts_all_bytes:
            if None in moved:
                return None
            return sum(count or 0 for count in moved)
        if not self.phases_with_bytes.intersection(phases):
            return None
        return sum(count or 0 for count in moved)

    def requests(self, spans: list[SpanRecorded]) -> int | None:
        if not self.has_requests:
            return None
        return sum(s.requests or 0 for s in spans)

    def byte_columns(self, spans: list[SpanRecorded]) -> dict[str, int | None]:
        return {
            column: self.bytes(spans, phases) for column, phases in schema.BYTE_COLUMNS.items()
        }


def _inherit_indices(spans: list[SpanRecorded]) -> list[SpanRecorded]:
    """Fill a span's missing stage and instruction index from its nearest ancestor.

    An engine timing with nested `SpanClock.span` calls may set the stage index only
    on the outer `stage` span, and its download or execute spans still belong to
    that stage.
    """
    by_id = {span.span_id: span for span in spans}

    def inherited(span: SpanRecorded, attribute: str) -> int | None:
        seen = {span.span_id}
        current: SpanRecorded | None = span
        while current is not None:
            value = getattr(current, attribute)
            if value is not None:
                return value
            parent_id = current.parent_id
            if parent_id is None or parent_id in seen:
                return None
            seen.add(parent_id)
            current = by_id.get(parent_id)
        return None

    resolved = []
    for span in spans:
        if span.stage_index is None or span.instruction_index is None:
            span = dataclasses.replace(
                span,
                stage_index=inherited(span, "stage_index"),
                instruction_index=inherited(span, "instruction_index"),
            )
        resolved.append(span)
    return resolved


def _has_same_phase_ancestor(span: SpanRecorded, by_id: Mapping[str, SpanRecorded]) -> bool:
    seen = {span.span_id}
    parent_id = span.parent_id
    while parent_id is not None and parent_id not in seen:
        parent = by_id.get(parent_id)
        if parent is None:
            return False
        if parent.phase == span.phase:
            return True
        seen.add(parent_id)
        parent_id = parent.parent_id
    return False


def _build_row(grouped: _BuildEvents, spans: _SpanIndex) -> dict[str, object]:
    started = grouped.started
    assert started is not None
    finished = grouped.finished
    row: dict[str, object] = {
        "build_id": started.build_id,
        "run_id": started.run_id,
        "engine": started.engine,
        "engine_version": started.engine_version,
        "strategy": started.strategy,
        "profile": started.profile,
        "flags": started.flags,
        "dockerfile_id": started.dockerfile_id,
        "target": started.target,
        "scenario": started.scenario,
        "step": started.step,
        "repeat": started.repeat,
        "started_at": None if started.started_at is None else _utc(started.started_at),
        "host": started.host,
        "cpu_count": started.cpu_count,
        "python_version": started.python_version,
    }
    if finished is not None:
        row.update(
            wall_s=finished.wall_s,
            outcome=finished.outcome,
            error=finished.error,
            image_digest=finished.image_digest,
            image_content_digest=finished.image_content_digest,
        )
    else:
        row["wall_s"] = spans.seconds(
            [s for s in spans.counted if s.phase == "build"], ("build",)
        )

    # Totals include build-level spans such as push-image, which belong to no stage.
    row.update(spans.byte_columns(spans.counted))
    if grouped.stages:
        actions = [stage.action for stage in grouped.stages]
        row["stages_total"] = len(actions)
        row["stages_built"] = actions.count("built")
        row["stages_eliminated"] = actions.count("eliminated")
        row["stages_squashed"] = actions.count("squashed")
        row["stages_unused"] = actions.count("unused")
    if grouped.instructions:
        decisions = [instruction.decision for instruction in grouped.instructions]
        row["cache_hits"] = decisions.count("hit")
        row["cache_misses"] = decisions.count("miss")
    row["cache_failures"] = _cache_failures(grouped)
    return row


def _cache_failures(grouped: _BuildEvents) -> int | None:
    # Like the byte counts: 0 needs a finished build of an engine that marks every failure.
    started = grouped.started
    assert started is not None
    failures = count_failed_operations(grouped.spans)
    if failures or (grouped.finished is not None and started.engine in schema.CACHE_FAILURE_ENGINES):
        return failures
    return None


def _stage_row(
    stage: StageRecorded, grouped: _BuildEvents, spans: _SpanIndex
) -> dict[str, object]:
    stage_spans = spans.of_stage(stage.stage_index)
    row: dict[str, object] = {
        "build_id": stage.build_id,
        "stage_index": stage.stage_index,
        "stage_name": stage.stage_name,
        "base": stage.base,
        "base_kind": stage.base_kind,
        "action": stage.action,
        "squashed_into": stage.squashed_into,
        "unpacked": stage.unpacked,
        "final_key": stage.final_key,
        "key_a_priori": stage.key_a_priori,
        "key_blockers": list(stage.key_blockers),
        "key_risks": list(stage.key_risks),
        "wall_s": spans.seconds(stage_spans, ("stage",)),
        "requests": spans.requests(stage_spans),
    }
    for column, phases in schema.PHASE_COLUMNS.items():
        row[column] = spans.seconds(stage_spans, phases)
    row.update(spans.byte_columns(stage_spans))

    if grouped.instructions:
        decisions = [
            i.decision for i in grouped.instructions if i.stage_index == stage.stage_index
        ]
        row["instructions"] = len(decisions)
        row["cache_hits"] = decisions.count("hit")
        row["cache_misses"] = decisions.count("miss")
    return row


def _instruction_row(instruction: InstructionRecorded, spans: _SpanIndex) -> dict[str, object]:
    own_spans = spans.of_instruction(instruction.stage_index, instruction.instruction_index)
    row: dict[str, object] = {
        "build_id": instruction.build_id,
        "stage_index": instruction.stage_index,
        "instruction_index": instruction.instruction_index,
        "origin_stage_index": instruction.origin_stage_index,
        "line": instruction.line,
        "instruction": instruction.instruction,
        "kind": instruction.kind,
        "cache_key": instruction.cache_key,
        "key_source": instruction.key_source,
        "redirect_key": instruction.redirect_key,
        "probed": instruction.probed,
        "decision": instruction.decision,
        "a_priori": instruction.a_priori,
        "wall_s": spans.seconds(own_spans, ("instruction",)),
        "requests": spans.requests(own_spans),
        "files_hashed": instruction.files_hashed,
        "bytes_hashed": instruction.bytes_hashed,
        "key_parts": list(instruction.key_parts) if instruction.key_parts else None,
    }
    row.update(spans.byte_columns(own_spans))
    return row


def _span_row(span: SpanRecorded) -> dict[str, object]:
    return {
        "build_id": span.build_id,
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "phase": span.phase,
        "stage_index": span.stage_index,
        "instruction_index": span.instruction_index,
        "start_s": span.start_s,
        "end_s": span.end_s,
        "bytes": span.bytes,
        "requests": span.requests,
        "attributes": json.dumps(span.attributes, sort_keys=True) if span.attributes else None,
    }


def _utc(value: object) -> pd.Timestamp:
    # Naive datetimes are taken as UTC, the clock every cachelab source records in.
    timestamp = pd.Timestamp(value)
    if timestamp.tzinfo is None:
        return timestamp.tz_localize("UTC")
    return timestamp.tz_convert("UTC")
