"""Deleting cache entries older than a duration: a dry run unless asked to delete."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cachelab.cachels.listing import CacheRow, list_cache
from cachelab.cachels.stores import BlobCollection, CacheStore
from cachelab.oci.cache import CachedLayer

logger = logging.getLogger(__name__)


@dataclass
class PruneResult:
    """The entries a prune selected, the outcome of each deleted or failed one, and the blobs collected."""

    selected: list[CacheRow] = field(default_factory=list)
    kept_count: int = 0
    deleted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    dry_run: bool = True
    blobs: BlobCollection | None = None


def select_older_than(rows: list[CacheRow], older_than: timedelta) -> list[CacheRow]:
    """Return the valid rows whose age exceeds `older_than`; invalid rows are never selected."""
    limit = older_than.total_seconds()
    return [row for row in rows if row.age_s is not None and row.age_s > limit]


def prune_cache(
    store: CacheStore,
    *,
    older_than: timedelta,
    delete: bool = False,
    now: datetime | None = None,
) -> PruneResult:
    """Select entries created more than `older_than` before `now`; delete them only with `delete`.

    A layout store untags the entries and then removes blobs no tag reaches,
    except those younger than its `keep_newer_than`. The `oci:DIR` form removes
    each key's directory. A registry deletes the manifests where it allows deletes.
    """
    now = now or datetime.now(UTC)
    rows = list_cache(store, ttl=older_than, now=now)
    selected = select_older_than(rows, older_than)
    result = PruneResult(selected=selected, kept_count=len(rows) - len(selected), dry_run=not delete)
    if not delete or not selected:
        return result

    chosen = {row.key for row in selected}
    protected = {row.manifest_digest for row in rows if row.key not in chosen and row.manifest_digest}
    entries = [_entry_of(row) for row in selected]
    for key, reason in store.delete(entries, protected=protected):
        if reason is None:
            result.deleted.append(key)
        else:
            result.failed.append((key, reason))
            logger.warning("cache entry %s of %s not deleted: %s", key, store.location, reason)
    result.blobs = store.collect_blobs()
    return result


def _entry_of(row: CacheRow) -> CachedLayer:
    assert row.created is not None  # selected rows are valid entries
    return CachedLayer(row.key, row.created, layer_digest=row.layer_digest, layer_size=row.layer_size,
                       manifest_digest=row.manifest_digest)
