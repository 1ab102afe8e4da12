"""A cache hit's layer whose blob in the cache store is corrupted.

A hit takes the entry's layer blob on trust: its digest is checked only when a
step reads the blob (extracting it onto a root, or downloading it from a
registry). A mismatch found then is reported as `CorruptCachedLayer`, which
names the cache store, the entry, the blob and the Dockerfile line of the hit,
instead of the scratch file the bytes were read through.

NOTE: kaniko counts a cache entry it cannot retrieve as a miss and rebuilds the
step. cachelab fails instead, because the mismatch shows up only after the plan
has counted on the hit (no unpacking, later stages skipped), and sometimes in a
later stage than the hit.
"""

from __future__ import annotations

from dataclasses import dataclass

from cachelab.build.errors import BuildError

# Kinds of cache store, which decide how the entry can be removed. They are the
# kinds `cachelab.oci.cache.cache_location_kind` returns, under shorter names.
from cachelab.oci.cache import KANIKO_LAYOUT
from cachelab.oci.cache import LAYOUT_STORE as LAYOUT
from cachelab.oci.cache import REGISTRY_REPOSITORY as REGISTRY
from cachelab.oci.errors import DigestMismatch

__all__ = ["KANIKO_LAYOUT", "LAYOUT", "REGISTRY", "CacheHit", "CorruptCachedLayer"]


@dataclass(frozen=True)
class CacheHit:
    """The hit that brought a layer into the build: the store, the entry's key and the instruction."""

    store: str  # the cache store as the build names it: a directory, oci:DIR or HOST[:PORT]/REPO
    kind: str  # LAYOUT, KANIKO_LAYOUT or REGISTRY
    key: str
    line: int
    instruction: str


class CorruptCachedLayer(BuildError):
    """A cache hit's layer blob whose content does not hash to its digest."""

    def __init__(self, hit: CacheHit, error: DigestMismatch, *, blob_file: str | None) -> None:
        where = f"blob file {blob_file}" if blob_file is not None else "blob"
        super().__init__(
            f"cache hit, but its layer {error.expected} in cache store {hit.store} (entry {hit.key}) "
            f"is corrupted: the {where} hashes to {error.actual}",
            hint=_repair_hint(hit),
            line=hit.line,
            instruction=hit.instruction,
        )
        self.hit = hit
        self.expected = error.expected
        self.actual = error.actual
        self.blob_file = blob_file


def _repair_hint(hit: CacheHit) -> str:
    no_cache = "or build with --strategy no-cache, which reads no cache."
    if hit.kind == KANIKO_LAYOUT:
        prefix = hit.store.removeprefix("oci:")
        return (f"Run `cachelab store check {prefix}:{hit.key}` to confirm, then delete that entry directory "
                f"so the next build writes it again, {no_cache}")
    if hit.kind == LAYOUT:
        # Untagging the entry would leave the blob, and the next push of the same
        # layer keeps an existing blob file, so only a new store drops it.
        return (f"Run `cachelab store check {hit.store}` to list every damaged blob, then delete the store "
                f"directory so the next build fills it again, {no_cache}")
    return (f"Delete the tag {hit.key} from {hit.store} and let the registry's garbage collection remove "
            f"the blob, {no_cache}")
