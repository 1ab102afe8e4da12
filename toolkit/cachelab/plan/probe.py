"""Cache probes as kaniko makes them within one build.

kaniko wraps its cache repository in a memo for the whole build. A lookup that
found an entry is pinned, so the build pass reuses what the precompute pass found
without a second request. Misses are not remembered and are probed again.
An entry older than `--cache-ttl` (by its config `created` time) is a miss.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from cachelab.plan.errors import CachePointerError
from cachelab.plan.interfaces import CacheEntry, LayerCache

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one lookup: the entry on a hit, and whether an entry was found but expired."""

    entry: CacheEntry | None
    expired: bool = False
    memoized: bool = False

    @property
    def hit(self) -> bool:
        return self.entry is not None


class MemoizedCache:
    """Lookups against a LayerCache with kaniko's hit memo and TTL check."""

    def __init__(self, cache: LayerCache, *, ttl: timedelta, now: datetime) -> None:
        self.cache = cache
        self.ttl = ttl
        self.now = now
        self._hits: dict[str, CacheEntry] = {}
        self.requests = 0

    def holds(self, key: str) -> bool:
        """Report whether an earlier lookup of `key` in this build hit (kaniko's `precomputed`)."""
        return key in self._hits

    def probe(self, key: str) -> ProbeResult:
        """Look `key` up, pinning a hit for the rest of the build."""
        pinned = self._hits.get(key)
        if pinned is not None:
            return ProbeResult(entry=pinned, memoized=True)
        self.requests += 1
        entry = self.cache.lookup(key)
        if entry is None:
            logger.debug("no cached entry %s", key)
            return ProbeResult(entry=None)
        if entry.created + self.ttl < self.now:
            logger.info("cache entry %s expired: created %s, ttl %s", key, entry.created, self.ttl)
            return ProbeResult(entry=None, expired=True)
        self._hits[key] = entry
        return ProbeResult(entry=entry)

    def resolve_pointer(self, key: str) -> tuple[str | None, ProbeResult]:
        """Look up the pointer `key` and return its target state (None on a miss)."""
        result = self.probe(key)
        if result.entry is None:
            return None, result
        target = result.entry.pointer_target
        if target is None:
            raise CachePointerError(
                f"cache entry {key} has no pointer label kaniko.cache.pointer-target "
                "but was looked up as a cross-stage pointer",
            )
        return target, result
