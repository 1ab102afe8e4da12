"""Span timing against one build's monotonic clock."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from cachelab.events.types import EventSink, SpanRecorded


@dataclass
class OpenSpan:
    """A span being timed; add to `bytes` and `requests` while it runs."""

    span_id: str
    bytes: int | None = None
    requests: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def add_bytes(self, count: int) -> None:
        self.bytes = (self.bytes or 0) + count

    def add_requests(self, count: int = 1) -> None:
        self.requests = (self.requests or 0) + count


class SpanClock:
    """Time nested phases of one build and emit a `SpanRecorded` for each.

    Spans nest by the `with` structure: the innermost open span is the parent of
    a new one. Not thread-safe; parallel work should time itself and call `emit`
    with explicit times.
    """

    def __init__(self, build_id: str, sink: EventSink) -> None:
        self.build_id = build_id
        self.sink = sink
        self._origin = time.perf_counter()
        self._ids = itertools.count(1)
        self._stack: list[str] = []

    def now(self) -> float:
        """Seconds since the build started."""
        return time.perf_counter() - self._origin

    @contextlib.contextmanager
    def span(
        self,
        phase: str,
        *,
        stage_index: int | None = None,
        instruction_index: int | None = None,
    ) -> Iterator[OpenSpan]:
        span = OpenSpan(span_id=f"s{next(self._ids)}")
        parent = self._stack[-1] if self._stack else None
        start = self.now()
        self._stack.append(span.span_id)
        try:
            yield span
        finally:
            self._stack.pop()
            self.sink.emit(
                SpanRecorded(
                    build_id=self.build_id,
                    span_id=span.span_id,
                    parent_id=parent,
                    phase=phase,
                    start_s=start,
                    end_s=self.now(),
                    stage_index=stage_index,
                    instruction_index=instruction_index,
                    bytes=span.bytes,
                    requests=span.requests,
                    attributes=dict(span.attributes),
                )
            )
