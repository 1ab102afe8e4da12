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

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

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
from cachelab.record.span_sums import SpanSums, inherit_indices

logger = logging.getLogger(__name__)

# Columns copied unchanged from the event field of the same name.
_BUILD_FIELDS = (
    "build_id",
    "run_id",
    "engine",
    "engine_version",
    "strategy",
    "profile",
    "flags",
    "dockerfile_id",
    "target",
    "scenario",
    "step",
    "repeat",
    "host",
    "cpu_count",
    "python_version",
)
_FINISHED_FIELDS = ("outcome", "error", "image_digest", "image_content_digest")
_STAGE_FIELDS = (
    "build_id",
    "stage_index",
    "stage_name",
    "base",
    "base_kind",
    "action",
    "squashed_into",
    "unpacked",
    "final_key",
    "key_a_priori",
)
_INSTRUCTION_FIELDS = (
    "build_id",
    "stage_index",
    "instruction_index",
    "origin_stage_index",
    "line",
    "instruction",
    "kind",
    "cache_key",
    "key_source",
    "redirect_key",
    "probed",
    "decision",
    "a_priori",
    "files_hashed",
    "bytes_hashed",
)
_SPAN_FIELDS = (
    "build_id",
    "span_id",
    "parent_id",
    "phase",
    "start_s",
    "end_s",
    "bytes",
    "requests",
)

# Column name -> one value per row, in row order.
_Columns = dict[str, list[Any]]


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
    # The columns summed from spans, filled build by build. The columns copied
    # from event fields are added once all builds are summed.
    columns: dict[str, _Columns] = {name: defaultdict(list) for name in schema.TABLES}
    span_stage_indices: list[int | None] = []
    span_instruction_indices: list[int | None] = []
    for build_id, grouped in builds.items():
        if grouped.started is None:
            raise EventStreamError(
                f"build {build_id!r} has events but no BuildStarted event",
                hint="Emit BuildStarted before any other event of a build.",
            )
        stage_indices, instruction_indices = inherit_indices(grouped.spans)
        sums = SpanSums(
            grouped.spans,
            stage_indices,
            instruction_indices,
            counts_all_bytes=_finished_build_of(grouped, schema.BYTE_COUNTING_ENGINES),
            times_all_phases=_finished_build_of(grouped, schema.PHASE_TIMING_ENGINES),
        )
        _add_build_columns(columns["builds"], grouped, sums)
        _add_stage_sums(columns["stages"], grouped, sums)
        _add_instruction_sums(columns["instructions"], grouped, sums)
        span_stage_indices.extend(stage_indices)
        span_instruction_indices.extend(instruction_indices)

    grouped_builds = list(builds.values())
    tables = {
        "builds": _builds_table(columns["builds"], grouped_builds),
        "stages": _stages_table(columns["stages"], grouped_builds),
        "instructions": _instructions_table(columns["instructions"], grouped_builds),
        "spans": _spans_table(span_stage_indices, span_instruction_indices, grouped_builds),
    }
    tables["instructions"] = fill_origins(tables["instructions"], tables["stages"])
    return tables


def _group_by_build(events: Iterable[Event]) -> dict[str, _BuildEvents]:
    builds: dict[str, _BuildEvents] = {}
    for event in events:
        grouped = builds.get(event.build_id)
        if grouped is None:
            grouped = builds[event.build_id] = _BuildEvents()
        # Checked in order of frequency: a build has far more spans than other events.
        if isinstance(event, SpanRecorded):
            grouped.spans.append(event)
        elif isinstance(event, InstructionRecorded):
            grouped.instructions.append(event)
        elif isinstance(event, StageRecorded):
            grouped.stages.append(event)
        elif isinstance(event, BuildStarted):
            if grouped.started is not None:
                raise _duplicate(event.build_id, "BuildStarted")
            grouped.started = event
        elif isinstance(event, BuildFinished):
            if grouped.finished is not None:
                raise _duplicate(event.build_id, "BuildFinished")
            grouped.finished = event
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


def _add_build_columns(columns: _Columns, grouped: _BuildEvents, sums: SpanSums) -> None:
    """Append the build's row to the builds columns that do not copy a `BuildStarted` field."""
    started = grouped.started
    assert started is not None
    finished = grouped.finished
    columns["started_at"].append(None if started.started_at is None else _utc(started.started_at))
    if finished is not None:
        columns["wall_s"].append(finished.wall_s)
    else:
        columns["wall_s"].append(sums.seconds(sums.build, "build"))
    for name in _FINISHED_FIELDS:
        columns[name].append(None if finished is None else getattr(finished, name))

    # Totals include build-level spans such as push-image, which belong to no stage.
    for column in schema.BYTE_COLUMNS:
        columns[column].append(sums.bytes(sums.build, column))

    actions = [stage.action for stage in grouped.stages]
    columns["stages_total"].append(len(actions) if actions else None)
    for column, action in (
        ("stages_built", "built"),
        ("stages_eliminated", "eliminated"),
        ("stages_squashed", "squashed"),
        ("stages_unused", "unused"),
    ):
        columns[column].append(actions.count(action) if actions else None)

    decisions = [instruction.decision for instruction in grouped.instructions]
    columns["cache_hits"].append(decisions.count("hit") if decisions else None)
    columns["cache_misses"].append(decisions.count("miss") if decisions else None)
    columns["cache_failures"].append(_cache_failures(grouped))


def _cache_failures(grouped: _BuildEvents) -> int | None:
    # Like the byte counts: 0 needs a finished build of an engine that marks every failure.
    started = grouped.started
    assert started is not None
    failures = count_failed_operations(grouped.spans)
    if failures or (grouped.finished is not None and started.engine in schema.CACHE_FAILURE_ENGINES):
        return failures
    return None


def _add_stage_sums(columns: _Columns, grouped: _BuildEvents, sums: SpanSums) -> None:
    """Append the span sums and instruction counts of the build's stages to the stages columns."""
    # Without instruction events the counts are unknown, so they stay NA.
    counts = _decision_counts(grouped.instructions) if grouped.instructions else None
    for stage in grouped.stages:
        stage_sums = sums.of_stage(stage.stage_index)
        columns["wall_s"].append(sums.seconds(stage_sums, "stage"))
        columns["requests"].append(sums.requests(stage_sums))
        for column in schema.PHASE_COLUMNS:
            columns[column].append(sums.seconds(stage_sums, column))
        for column in schema.BYTE_COLUMNS:
            columns[column].append(sums.bytes(stage_sums, column))

        if counts is None:
            instructions = hits = misses = None
        else:
            instructions, hits, misses = counts.get(stage.stage_index, (0, 0, 0))
        columns["instructions"].append(instructions)
        columns["cache_hits"].append(hits)
        columns["cache_misses"].append(misses)


def _decision_counts(instructions: list[InstructionRecorded]) -> dict[int, tuple[int, int, int]]:
    """Count per stage index the instructions, the cache hits and the cache misses."""
    counts: dict[int, tuple[int, int, int]] = {}
    for instruction in instructions:
        total, hits, misses = counts.get(instruction.stage_index, (0, 0, 0))
        counts[instruction.stage_index] = (
            total + 1,
            hits + (instruction.decision == "hit"),
            misses + (instruction.decision == "miss"),
        )
    return counts


def _add_instruction_sums(columns: _Columns, grouped: _BuildEvents, sums: SpanSums) -> None:
    """Append the span sums of the build's instructions to the instructions columns."""
    for instruction in grouped.instructions:
        own_sums = sums.of_instruction(instruction.stage_index, instruction.instruction_index)
        columns["wall_s"].append(sums.seconds(own_sums, "instruction"))
        columns["requests"].append(sums.requests(own_sums))
        for column in schema.BYTE_COLUMNS:
            columns[column].append(sums.bytes(own_sums, column))


def _builds_table(columns: _Columns, builds: list[_BuildEvents]) -> pd.DataFrame:
    started = [grouped.started for grouped in builds]
    _copy_fields(columns, started, _BUILD_FIELDS)
    return schema.table_from_columns("builds", columns, len(builds))


def _stages_table(columns: _Columns, builds: list[_BuildEvents]) -> pd.DataFrame:
    stages = [stage for grouped in builds for stage in grouped.stages]
    _copy_fields(columns, stages, _STAGE_FIELDS)
    columns["key_blockers"] = [list(stage.key_blockers) for stage in stages]
    columns["key_risks"] = [list(stage.key_risks) for stage in stages]
    return schema.table_from_columns("stages", columns, len(stages))


def _instructions_table(columns: _Columns, builds: list[_BuildEvents]) -> pd.DataFrame:
    instructions = [instruction for grouped in builds for instruction in grouped.instructions]
    _copy_fields(columns, instructions, _INSTRUCTION_FIELDS)
    columns["key_parts"] = [list(i.key_parts) if i.key_parts else None for i in instructions]
    return schema.table_from_columns("instructions", columns, len(instructions))


def _spans_table(
    stage_indices: list[int | None],
    instruction_indices: list[int | None],
    builds: list[_BuildEvents],
) -> pd.DataFrame:
    """Build the spans table, with the stage and instruction indices from `inherit_indices`."""
    spans = [span for grouped in builds for span in grouped.spans]
    columns: _Columns = {"stage_index": stage_indices, "instruction_index": instruction_indices}
    _copy_fields(columns, spans, _SPAN_FIELDS)
    columns["attributes"] = [
        json.dumps(span.attributes, sort_keys=True) if span.attributes else None for span in spans
    ]
    return schema.table_from_columns("spans", columns, len(spans))


def _copy_fields(columns: _Columns, events: Sequence[object], fields: tuple[str, ...]) -> None:
    for name in fields:
        columns[name] = list(map(attrgetter(name), events))


def _utc(value: object) -> pd.Timestamp:
    # Naive datetimes are taken as UTC, the clock every cachelab source records in.
    timestamp = pd.Timestamp(value)
    if timestamp.tzinfo is None:
        return timestamp.tz_localize("UTC")
    return timestamp.tz_convert("UTC")
