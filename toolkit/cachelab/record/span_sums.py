"""Sum one build's spans into the time, byte and request columns of its rows.

The NA and 0 rules are described in `cachelab.record.tables`. Sums run in span
order, so a float sum equals Python's `sum` over the same spans.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cachelab.events import SpanRecorded
from cachelab.record import schema

# Span phases summed under each time key: the stage phase columns, and the
# container phases, whose sums are the wall times of builds, stages and instructions.
TIME_PHASES: dict[str, tuple[str, ...]] = {
    **schema.PHASE_COLUMNS,
    **{phase: (phase,) for phase in schema.CONTAINER_PHASES},
}

# Positions in a totals list (see `_NO_SPANS`): the seconds of each time key,
# the bytes of each byte column, a flag per byte column set by a span of unknown
# size, and the requests. A flat list per row keeps the allocations few.
_TIME_SLOTS = {key: slot for slot, key in enumerate(TIME_PHASES)}
_BYTE_SLOTS = {column: len(TIME_PHASES) + slot for slot, column in enumerate(schema.BYTE_COLUMNS)}
_UNKNOWN_SLOTS = {column: slot + len(schema.BYTE_COLUMNS) for column, slot in _BYTE_SLOTS.items()}
_REQUESTS_SLOT = len(TIME_PHASES) + 2 * len(schema.BYTE_COLUMNS)

# Seconds (float or int), bytes (int), unknown-size flags (bool) and requests (int).
Totals = list[Any]
_PhaseSlots = tuple[tuple[int, ...], tuple[tuple[int, int], ...]]


def _slots_by_phase() -> dict[str, _PhaseSlots]:
    """Map each span phase to its time slots and to the slots of its byte columns.

    A byte column has two slots: its bytes and its unknown-size flag.
    """
    time_slots: dict[str, list[int]] = {}
    byte_slots: dict[str, list[tuple[int, int]]] = {}
    for key, phases in TIME_PHASES.items():
        for phase in phases:
            time_slots.setdefault(phase, []).append(_TIME_SLOTS[key])
    for column, phases in schema.BYTE_COLUMNS.items():
        for phase in phases:
            byte_slots.setdefault(phase, []).append((_BYTE_SLOTS[column], _UNKNOWN_SLOTS[column]))
    return {
        phase: (tuple(time_slots.get(phase, ())), tuple(byte_slots.get(phase, ())))
        for phase in time_slots.keys() | byte_slots.keys()
    }


_SLOTS_BY_PHASE = _slots_by_phase()
_NO_SLOTS: _PhaseSlots = ((), ())


# The totals of a row without counted spans, and the start of every sum. The sums
# start at the int 0, as Python's `sum` does.
_NO_SPANS: tuple[Any, ...] = (
    (0,) * len(TIME_PHASES)
    + (0,) * len(schema.BYTE_COLUMNS)
    + (False,) * len(schema.BYTE_COLUMNS)
    + (0,)
)


def _add_span(
    totals: Totals, slots: _PhaseSlots, seconds: float, moved: int | None, requests: int
) -> None:
    time_slots, byte_slots = slots
    for slot in time_slots:
        totals[slot] += seconds
    for bytes_slot, unknown_slot in byte_slots:
        if moved is None:
            totals[unknown_slot] = True
        totals[bytes_slot] += moved or 0
    totals[_REQUESTS_SLOT] += requests


class SpanSums:
    """The counted spans of one build, summed per stage, per instruction and for the build.

    With `counts_all_bytes`, the build's spans report every transfer, so byte
    sums are 0 without spans and NA when a span's size is unknown. With
    `times_all_phases`, the build has a span for every phase it ran, so time
    sums are 0 without spans.
    """

    def __init__(
        self,
        spans: list[SpanRecorded],
        stage_indices: list[int | None],
        instruction_indices: list[int | None],
        *,
        counts_all_bytes: bool = False,
        times_all_phases: bool = False,
    ) -> None:
        """Sum `spans`, taking each span's stage and instruction index from the two index lists."""
        self.counts_all_bytes = counts_all_bytes
        self.times_all_phases = times_all_phases
        self.phases: set[str] = set()
        self.phases_with_bytes: set[str] = set()
        self.has_requests = False
        self.build = list(_NO_SPANS)
        self._stages: dict[int | None, Totals] = {}
        self._instructions: dict[tuple[int | None, int], Totals] = {}

        by_id = {span.span_id: span for span in spans}
        for span, stage_index, instruction_index in zip(
            spans, stage_indices, instruction_indices, strict=True
        ):
            # A span inside a span of the same phase is already part of the outer one.
            if _has_same_phase_ancestor(span, by_id):
                continue
            self.phases.add(span.phase)
            if span.bytes is not None:
                self.phases_with_bytes.add(span.phase)
            if span.requests is not None:
                self.has_requests = True

            slots = _SLOTS_BY_PHASE.get(span.phase, _NO_SLOTS)
            # A span of a phase without a time key is not required to have valid times.
            seconds = span.end_s - span.start_s if slots[0] else 0
            requests = span.requests or 0
            _add_span(self.build, slots, seconds, span.bytes, requests)
            stage = self._stages.get(stage_index)
            if stage is None:
                stage = self._stages[stage_index] = list(_NO_SPANS)
            _add_span(stage, slots, seconds, span.bytes, requests)
            if instruction_index is not None:
                key = (stage_index, instruction_index)
                instruction = self._instructions.get(key)
                if instruction is None:
                    instruction = self._instructions[key] = list(_NO_SPANS)
                _add_span(instruction, slots, seconds, span.bytes, requests)

    def of_stage(self, stage_index: int) -> Totals | tuple[Any, ...]:
        """Return the totals of a stage's counted spans, its instructions' spans included."""
        return self._stages.get(stage_index, _NO_SPANS)

    def of_instruction(self, stage_index: int, instruction_index: int) -> Totals | tuple[Any, ...]:
        """Return the totals of one instruction's counted spans."""
        return self._instructions.get((stage_index, instruction_index), _NO_SPANS)

    def seconds(self, totals: Sequence[Any], key: str) -> float | None:
        """Return the seconds summed under a key of `TIME_PHASES`, or None when not measured."""
        if not self.times_all_phases and self.phases.isdisjoint(TIME_PHASES[key]):
            return None
        return totals[_TIME_SLOTS[key]]

    def bytes(self, totals: Sequence[Any], column: str) -> int | None:
        """Return the bytes summed into a `schema.BYTE_COLUMNS` column, or None when unknown."""
        if self.counts_all_bytes:
            if totals[_UNKNOWN_SLOTS[column]]:
                return None
        elif self.phases_with_bytes.isdisjoint(schema.BYTE_COLUMNS[column]):
            return None
        return totals[_BYTE_SLOTS[column]]

    def requests(self, totals: Sequence[Any]) -> int | None:
        """Return the summed requests, or None when no span of the build counts them."""
        if not self.has_requests:
            return None
        return totals[_REQUESTS_SLOT]


def inherit_indices(spans: list[SpanRecorded]) -> tuple[list[int | None], list[int | None]]:
    """Return the stage indices and the instruction indices of `spans`.

    A span without an index takes it from its nearest ancestor that has one. An
    engine timing with nested `SpanClock.span` calls may set the stage index only
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

    stage_indices: list[int | None] = []
    instruction_indices: list[int | None] = []
    for span in spans:
        if span.stage_index is None or span.instruction_index is None:
            stage_indices.append(inherited(span, "stage_index"))
            instruction_indices.append(inherited(span, "instruction_index"))
        else:
            stage_indices.append(span.stage_index)
            instruction_indices.append(span.instruction_index)
    return stage_indices, instruction_indices


def _has_same_phase_ancestor(span: SpanRecorded, by_id: Mapping[str, SpanRecorded]) -> bool:
    parent_id = span.parent_id
    # A walk caught in a cycle of parent ids repeats ancestors it already compared,
    # so after len(by_id) steps no ancestor is left to compare. Returning to
    # `span` itself ends the walk, because a span is no ancestor of itself.
    for _ in range(len(by_id)):
        if parent_id is None or parent_id == span.span_id:
            return False
        parent = by_id.get(parent_id)
        if parent is None:
            return False
        if parent.phase == span.phase:
            return True
        parent_id = parent.parent_id
    return False
