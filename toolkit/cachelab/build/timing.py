"""`hash-context` and `probe-cache` spans for the work the planner does.

The planner hashes files through its `Keyer` and probes through the `LayerCache`
it was given. The builder wraps both, so the time spent in each shows up as spans
without the planner knowing about clocks: `TimedCache` times every lookup (and
turns store errors into misses, see its docstring), and
`TimedKeyer` times the key parts of instructions that may read files (COPY, ADD,
RUN with mounts). Both attribute the span to the instruction the planner keyed
last, because the planner keys a command before it probes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, cast

from cachelab.events.spans import SpanClock
from cachelab.oci.cache import InvalidCacheEntry
from cachelab.oci.errors import OCIError
from cachelab.oci.transfer import TransferStats
from cachelab.plan.interfaces import CacheEntry, LayerBlob, LayerCache
from cachelab.plan.stages import PlanStage

logger = logging.getLogger(__name__)

_FILE_READING_KINDS = frozenset({"COPY", "ADD"})


@dataclass
class Position:
    """The stage index as written and instruction index the planner is working on."""

    stage_index: int | None = None
    instruction_index: int | None = None


class TimedKeyer:
    """A proxy of the planner's `Keyer` that times key parts which may hash files."""

    def __init__(self, keyer: Any, clock: SpanClock, stages: Iterable[PlanStage], position: Position) -> None:
        self._keyer = keyer
        self._clock = clock
        self.position = position
        self._positions: dict[int, tuple[int, int]] = {}
        self.index_stages(stages)

    def index_stages(self, stages: Iterable[PlanStage]) -> None:
        """Map each command's instruction to its stage and position (after squash and elimination)."""
        for stage in stages:
            for position, command in enumerate(stage.commands):
                self._positions[id(command.instruction)] = (stage.index, position)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._keyer, name)

    def _enter(self, instruction: Any) -> None:
        found = self._positions.get(id(instruction))
        if found is not None:
            self.position.stage_index, self.position.instruction_index = found

    def parts(self, instruction: Any, environment: Any, *, source: Any) -> Any:
        self._enter(instruction)
        if instruction.kind not in _FILE_READING_KINDS and not (instruction.kind == "RUN" and instruction.mounts):
            return self._keyer.parts(instruction, environment, source=source)
        with self._clock.span(
            "hash-context",
            stage_index=self.position.stage_index,
            instruction_index=self.position.instruction_index,
        ) as span:
            parts = self._keyer.parts(instruction, environment, source=source)
            span.add_bytes(parts.bytes_hashed)
            span.attributes["files"] = str(parts.files_hashed)
            return parts

    def instruction_part(self, instruction: Any, environment: Any) -> Any:
        self._enter(instruction)
        return self._keyer.instruction_part(instruction, environment)


class TimedCache:
    """A `LayerCache` proxy that times lookups and tolerates store errors as kaniko does.

    Each lookup records a `probe-cache` span with its registry requests. Like
    kaniko, a lookup that fails (unreachable registry, denied access, broken
    entry) counts as a miss, and a failed push only logs a warning: the build
    goes on without that entry. An entry whose only fault is its layer count is
    returned as found instead, so applying it fails the build as in kaniko. The
    first failure is logged as a warning, the rest at debug level; `failures`
    counts them all.
    """

    def __init__(self, cache: LayerCache, clock: SpanClock, position: Position, stats: TransferStats | None) -> None:
        self.cache = cache
        self._clock = clock
        self._position = position
        self._stats = stats
        self.lookups = 0
        self.failures = 0

    def __repr__(self) -> str:
        return f"TimedCache({self.cache!r})"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cache, name)

    def lookup(self, key: str) -> CacheEntry | None:
        before = self._stats.total_requests if self._stats is not None else 0
        with self._clock.span(
            "probe-cache",
            stage_index=self._position.stage_index,
            instruction_index=self._position.instruction_index,
        ) as span:
            span.attributes["key"] = key
            self.lookups += 1
            try:
                entry = self.cache.lookup(key)
            except OCIError as error:
                span.attributes["error"] = str(error)
                # kaniko finds an entry with the wrong layer count and fails the build
                # only when it applies the hit (`cachelab.build.cache_hits`).
                # CachedLayer has the fields of CacheEntry (tests/oci/test_cache.py checks them).
                entry = cast("CacheEntry | None", error.entry if isinstance(error, InvalidCacheEntry) else None)
                if entry is None:
                    self._failed("lookup", key, error)
            span.attributes["found"] = "true" if entry is not None else "false"
            if self._stats is not None:
                span.add_requests(self._stats.total_requests - before)
        return entry

    def open_layer(self, entry: CacheEntry) -> BinaryIO:
        return self.cache.open_layer(entry)

    def put_layer(self, key: str, layer: LayerBlob, *, created_by: str, created: datetime) -> bool:
        """Store a layer entry and return whether it worked (a failure is logged)."""
        try:
            self.cache.put_layer(key, layer, created_by=created_by, created=created)
        except OCIError as error:
            self._failed("push of layer", key, error)
            return False
        return True

    def put_pointer(self, key: str, target: str, *, created: datetime) -> bool:
        """Store a pointer entry and return whether it worked (a failure is logged)."""
        try:
            self.cache.put_pointer(key, target, created=created)
        except OCIError as error:
            self._failed("push of pointer", key, error)
            return False
        return True

    def _failed(self, operation: str, key: str, error: OCIError) -> None:
        self.failures += 1
        if self.failures == 1:
            logger.warning("cache %s %s failed, going on without it: %s", operation, key, error)
        else:
            logger.debug("cache %s %s failed (failure %d): %s", operation, key, self.failures, error)
