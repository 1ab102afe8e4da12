"""Plain build events: the seam between doing a build and recording it.

The builder, the model and the ingesters emit these objects to an `EventSink`;
`cachelab.record` turns a stream of them into the four tables (builds, stages,
instructions, spans). This package depends on nothing, so the build path never
imports pandas.

Times are seconds on the monotonic clock relative to the build start (`start_s`,
`end_s`); sizes are bytes; a value a source cannot know is `None`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

# The submodule that defines each public name, imported when the name is first read.
_EXPORTS = {
    "SpanClock": "spans",
    "BuildFinished": "types",
    "BuildStarted": "types",
    "Event": "types",
    "EventSink": "types",
    "InstructionRecorded": "types",
    "ListSink": "types",
    "NullSink": "types",
    "SpanRecorded": "types",
    "StageRecorded": "types",
}

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


def __getattr__(name: str) -> object:
    """Import the submodule that defines the public name `name` and return the name's value."""
    submodule = _EXPORTS.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    # Stored in the module, so later reads find it without calling this function.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
