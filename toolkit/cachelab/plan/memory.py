"""An in-memory kaniko cache repository, for tests and for simulated builds.

It holds the same two kinds of entry as a registry cache repository: layer entries
(one layer, whose history names the instruction) and pointer entries (no layer, a
`kaniko.cache.pointer-target` label). Lookups return what a registry probe would
see; expiry is left to the planner, which compares `created` with `--cache-ttl`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from cachelab.plan.interfaces import CacheEntry, LayerBlob

logger = logging.getLogger(__name__)

# Media type kaniko gives a gzip cache layer (the default `--compression`).
GZIP_LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True, slots=True)
class _StoredLayer:
    entry: CacheEntry
    blob: bytes


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"created time {moment!r} has no time zone; pass an aware UTC datetime")
    return moment.astimezone(UTC)


class MemoryCache:
    """A LayerCache that keeps entries and layer bytes in a dict.

    `lookups` lists every key probed, in order, so tests can check which probes a
    plan made.
    """

    def __init__(self) -> None:
        self._layers: dict[str, _StoredLayer] = {}
        self._pointers: dict[str, CacheEntry] = {}
        self.lookups: list[str] = []

    # LayerCache protocol

    def lookup(self, key: str) -> CacheEntry | None:
        self.lookups.append(key)
        if key in self._pointers:
            return self._pointers[key]
        stored = self._layers.get(key)
        return stored.entry if stored is not None else None

    def open_layer(self, entry: CacheEntry) -> BinaryIO:
        stored = self._layers.get(entry.key)
        if stored is None:
            raise KeyError(f"no layer entry {entry.key} in the memory cache")
        return io.BytesIO(stored.blob)

    def put_layer(self, key: str, layer: LayerBlob, *, created_by: str, created: datetime) -> None:
        with open(layer.path, "rb") as source, io.BytesIO() as buffer:
            shutil.copyfileobj(source, buffer)
            blob = buffer.getvalue()
        self._store_layer(
            key, blob, created_by=created_by, created=created, digest=layer.digest,
            diff_id=layer.diff_id, media_type=layer.media_type,
        )

    def put_pointer(self, key: str, target: str, *, created: datetime) -> None:
        self._layers.pop(key, None)
        self._pointers[key] = CacheEntry(key=key, created=_utc(created), pointer_target=target)
        logger.debug("stored pointer %s -> %s", key, target)

    # Helpers for tests and simulated builds

    def put_layer_bytes(
        self, key: str, blob: bytes = b"", *, created_by: str, created: datetime,
        diff_id: str | None = None,
    ) -> None:
        """Store a layer entry from bytes in memory (the blob is taken as already compressed)."""
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        self._store_layer(
            key, blob, created_by=created_by, created=created, digest=digest,
            diff_id=diff_id or digest, media_type=GZIP_LAYER_MEDIA_TYPE,
        )

    def delete(self, key: str) -> bool:
        """Remove the entry tagged `key`; return whether one existed."""
        found = self._layers.pop(key, None) is not None
        found = self._pointers.pop(key, None) is not None or found
        return found

    def keys(self) -> set[str]:
        """Return every tag in the cache, layers and pointers."""
        return set(self._layers) | set(self._pointers)

    def pointers(self) -> dict[str, str]:
        """Return each pointer tag with its target state."""
        return {key: entry.pointer_target or "" for key, entry in self._pointers.items()}

    def __contains__(self, key: object) -> bool:
        return key in self._layers or key in self._pointers

    def __len__(self) -> int:
        return len(self._layers) + len(self._pointers)

    def _store_layer(
        self, key: str, blob: bytes, *, created_by: str, created: datetime, digest: str,
        diff_id: str, media_type: str,
    ) -> None:
        self._pointers.pop(key, None)
        entry = CacheEntry(
            key=key, created=_utc(created), layer_digest=digest, layer_size=len(blob),
            layer_media_type=media_type, diff_id=diff_id, created_by=created_by,
        )
        self._layers[key] = _StoredLayer(entry=entry, blob=blob)
        logger.debug("stored layer %s for %r", key, created_by)
