"""Event types. Field names match the columns of the record tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, Union

# Phase vocabulary of spans; an engine with finer phases nests them as children.
PHASES = (
    "build",
    "stage",
    "instruction",
    "resolve-base",
    "download",
    "unpack",
    "hash-context",
    "probe-cache",
    "execute",
    "snapshot",
    "push-layer",
    "push-pointer",
    "save-stage",
    "save-files",
    "wipe-root",
    "push-image",
)


@dataclass(frozen=True, slots=True)
class BuildStarted:
    build_id: str
    run_id: str
    engine: str
    engine_version: str
    # None where the source cannot know it, such as a log of a foreign engine.
    strategy: str | None
    profile: str | None
    flags: str | None
    dockerfile_id: str | None
    target: str | None
    started_at: datetime | None
    scenario: str | None = None
    step: int | None = None
    repeat: int | None = None
    host: str | None = None
    cpu_count: int | None = None
    python_version: str | None = None


@dataclass(frozen=True, slots=True)
class BuildFinished:
    build_id: str
    # None where the source cannot measure it, as in a kaniko log with whole-second
    # stamps whose first and last lines fall within one second.
    wall_s: float | None
    outcome: str  # "ok" or "error"
    error: str | None = None
    image_digest: str | None = None
    # sha256 of the image's layer diff IDs and its config without timestamps, so two
    # builds of the same content compare equal whenever they ran.
    image_content_digest: str | None = None


@dataclass(frozen=True, slots=True)
class StageRecorded:
    """Outcome of one stage. Its timings and bytes come from its spans."""

    build_id: str
    stage_index: int
    stage_name: str | None
    base: str | None  # None when an ingested log does not name the base
    base_kind: str | None  # "image", "stage" or "scratch"; None when `base` is unknown
    action: str  # "built", "eliminated", "squashed" or "unused"
    unpacked: bool | None
    final_key: str | None
    key_a_priori: bool | None
    key_blockers: tuple[str, ...] = ()
    key_risks: tuple[str, ...] = ()
    squashed_into: int | None = None


@dataclass(frozen=True, slots=True)
class InstructionRecorded:
    build_id: str
    stage_index: int
    instruction_index: int
    line: int | None
    instruction: str
    kind: str
    cache_key: str | None
    key_source: str | None  # "content", "inferred" or "text"
    redirect_key: str | None
    probed: bool
    decision: str  # "hit", "miss", "not-probed", "unkeyed" or "skipped"
    a_priori: bool | None
    files_hashed: int | None = None
    bytes_hashed: int | None = None
    # The parts this instruction added to its key, in `cachelab.events.keyparts` form.
    key_parts: tuple[str, ...] = ()
    # The stage the instruction is written in, which differs from `stage_index` when
    # its stage was squashed into a child. None when the source does not know it.
    origin_stage_index: int | None = None


@dataclass(frozen=True, slots=True)
class SpanRecorded:
    build_id: str
    span_id: str
    parent_id: str | None
    phase: str
    start_s: float
    end_s: float
    stage_index: int | None = None
    instruction_index: int | None = None
    bytes: int | None = None
    requests: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)


Event = Union[BuildStarted, BuildFinished, StageRecorded, InstructionRecorded, SpanRecorded]


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class ListSink:
    """Keep every event in memory, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


class NullSink:
    """Drop every event."""

    def emit(self, event: Event) -> None:
        return None
