"""One row per cache entry: key, kind, age against a TTL, layer, instruction, pointer target."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cachelab.cachels.stores import CacheStore
from cachelab.keys.composite import CompositeKey, Mode
from cachelab.oci.cache import CachedLayer, InvalidCacheEntry
from cachelab.oci.errors import OCIError

logger = logging.getLogger(__name__)

EntryKind = Literal["layer", "pointer", "invalid"]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class CacheRow:
    """One cache entry as `cachelab cache ls` lists it.

    `age_s` and `expired` are judged against `now` and the TTL given to
    `list_cache`. For pointers, `pointer_target` is the label as stored and
    `pointer_key` the content key it resumes to. `hit_by` and `match` are set by
    `mark_dockerfile_hits`: `match` is "hit" when the Dockerfile's current keys
    would use the entry, "expired" when they name it but it is too old, and None
    otherwise.
    """

    key: str
    kind: EntryKind
    created: datetime | None
    age_s: float | None
    expired: bool | None
    layer_digest: str | None = None
    layer_size: int | None = None
    layer_media_type: str | None = None
    diff_id: str | None = None
    created_by: str | None = None
    pointer_target: str | None = None
    pointer_key: str | None = None
    manifest_digest: str | None = None
    error: str | None = None
    match: str | None = None
    hit_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["created"] = self.created.isoformat() if self.created else None
        return document


def pointer_content_key(target: str) -> str:
    """Return the cache key a pointer's target state resumes to.

    kaniko stores `State()` of the content key: in rolling mode that is the 64-hex
    key itself, in legacy mode the `-`-joined parts, whose sha256 is the key. A
    target of exactly 64 hex characters is taken as rolling, since a legacy state
    after a COPY always joins several parts.
    """
    mode: Mode = "rolling" if _HEX64.match(target) else "legacy"
    return CompositeKey.resume(target, mode=mode).hash()


def entry_row(entry: CachedLayer, *, now: datetime, ttl: timedelta) -> CacheRow:
    """Turn a parsed cache entry into a row, judging its age against `ttl`."""
    age = now - entry.created
    kind: EntryKind = "layer" if entry.layer_digest is not None else "pointer"
    return CacheRow(
        key=entry.key, kind=kind, created=entry.created, age_s=age.total_seconds(),
        expired=entry.created + ttl < now,
        layer_digest=entry.layer_digest, layer_size=entry.layer_size,
        layer_media_type=entry.layer_media_type, diff_id=entry.diff_id,
        created_by=entry.created_by, pointer_target=entry.pointer_target,
        pointer_key=pointer_content_key(entry.pointer_target) if entry.pointer_target else None,
        manifest_digest=entry.manifest_digest,
    )


def list_cache(store: CacheStore, *, ttl: timedelta, now: datetime | None = None) -> list[CacheRow]:
    """Read every entry of `store` and return rows sorted by creation time, oldest first.

    An entry that is not a valid kaniko entry (two layers, unreadable config)
    becomes a row of kind "invalid" with the error text, so one bad tag does not
    hide the rest.
    """
    now = now or datetime.now(UTC)
    rows: list[CacheRow] = []
    for key in store.list_keys():
        try:
            entry = store.lookup(key)
        except (InvalidCacheEntry, OCIError, ValueError, KeyError) as error:
            logger.warning("cache entry %s of %s is invalid: %s", key, store.location, error)
            rows.append(CacheRow(key, "invalid", None, None, None, error=str(error)))
            continue
        if entry is None:
            # Deleted between listing and reading.
            continue
        rows.append(entry_row(entry, now=now, ttl=ttl))
    epoch = datetime.min.replace(tzinfo=UTC)
    rows.sort(key=lambda row: (row.created or epoch, row.key))
    return rows
