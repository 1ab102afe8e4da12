"""Plain build events: the seam between doing a build and recording it.

The builder, the model and the ingesters emit these objects to an `EventSink`;
`cachelab.record` turns a stream of them into the four tables (builds, stages,
instructions, spans). This package depends on nothing, so the build path never
imports pandas.

Times are seconds on the monotonic clock relative to the build start (`start_s`,
`end_s`); sizes are bytes; a value a source cannot know is `None`.
"""

from __future__ import annotations

from cachelab.events.spans import SpanClock
from cachelab.events.types import (
    BuildFinished,
    BuildStarted,
    Event,
    EventSink,
    InstructionRecorded,
    ListSink,
    NullSink,
    SpanRecorded,
    StageRecorded,
)

__all__ = [
    "BuildFinished",
    "BuildStarted",
    "Event",
    "EventSink",
    "InstructionRecorded",
    "ListSink",
    "NullSink",
    "SpanClock",
    "SpanRecorded",
    "StageRecorded",
]
