"""The layer count kaniko requires of a cache entry when a build applies a hit.

kaniko reads an entry's layers only when it applies the hit (osscontainertools/
kaniko at commit 6bcc934, `ExecuteCommand` of the caching commands in
`pkg/commands/run.go`, `copy.go`, `add.go` and `workdir.go`). RUN, COPY and ADD
need exactly one layer, and any other count fails the build. WORKDIR also takes
an entry without layers, which kaniko before v1.25 wrote for a WORKDIR that
created no directory, and then adds no layer.
"""

from __future__ import annotations

from cachelab.build.cached_layer import KANIKO_LAYOUT, LAYOUT
from cachelab.build.errors import BuildError
from cachelab.plan.interfaces import CacheEntry

# The instructions whose cache entries must hold exactly one layer.
ONE_LAYER_KINDS = frozenset({"RUN", "COPY", "ADD"})


class InvalidCacheHit(BuildError):
    """A cache hit whose entry has another number of layers than the instruction takes."""


def hit_adds_layer(entry: CacheEntry, kind: str, *, store: str, store_kind: str) -> bool:
    """Return whether applying `entry` to a `kind` instruction adds a layer.

    Raises `InvalidCacheHit` where kaniko fails the build. `store` and
    `store_kind` name the cache store the entry came from, as
    `cachelab.build.stores.cache_store_of` returns them.
    """
    count = layer_count(entry)
    if count == 1:
        return True
    if count == 0 and kind not in ONE_LAYER_KINDS:
        return False
    expected = "exactly 1 layer" if kind in ONE_LAYER_KINDS else "0 or 1 layers"
    raise InvalidCacheHit(
        f"cache entry {entry.key} in cache store {store} has {count} layers, but a cached {kind} needs {expected}",
        hint=_removal_hint(store, store_kind, entry.key),
    )


def layer_count(entry: CacheEntry) -> int:
    """Return how many layers `entry` has."""
    if entry.layer_count is not None:
        return entry.layer_count
    return 0 if entry.layer_digest is None else 1


def _removal_hint(store: str, store_kind: str, key: str) -> str:
    no_cache = "or build with --strategy no-cache, which reads no cache."
    if store_kind == KANIKO_LAYOUT:
        prefix = store.removeprefix("oci:")
        return f"Delete the entry directory {prefix}:{key} so the next build writes it again, {no_cache}"
    if store_kind == LAYOUT:
        # cachelab has no command that removes one tag, so the hint names the whole store.
        return f"Delete the store directory {store} so the next build fills it again, {no_cache}"
    return f"Delete the tag {key} from {store} so the next build writes it again, {no_cache}"
