"""The in-memory cache repository and kaniko's probe memo with TTL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cachelab.plan.errors import CachePointerError
from cachelab.plan.memory import MemoryCache
from cachelab.plan.probe import MemoizedCache

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(hours=336)
KEY = "a" * 64


@dataclass
class Blob:
    path: str
    digest: str
    size: int
    diff_id: str
    media_type: str


def test_put_layer_reads_blob_file(tmp_path: Path) -> None:
    blob_path = tmp_path / "layer.tar.gz"
    blob_path.write_bytes(b"compressed layer")
    blob = Blob(str(blob_path), "sha256:" + "1" * 64, 16, "sha256:" + "2" * 64, "application/vnd.oci.image.layer.v1.tar+gzip")
    cache = MemoryCache()

    cache.put_layer(KEY, blob, created_by="RUN true", created=NOW)
    entry = cache.lookup(KEY)

    assert entry is not None
    assert entry.layer_digest == blob.digest
    assert entry.diff_id == blob.diff_id
    assert entry.created_by == "RUN true"
    assert cache.open_layer(entry).read() == b"compressed layer"


def test_pointer_replaces_layer_under_same_key() -> None:
    cache = MemoryCache()
    cache.put_layer_bytes(KEY, b"x", created_by="COPY a b", created=NOW)

    cache.put_pointer(KEY, "b" * 64, created=NOW)

    entry = cache.lookup(KEY)
    assert entry is not None
    assert entry.pointer_target == "b" * 64
    assert entry.layer_digest is None
    assert len(cache) == 1


def test_naive_created_time_rejected() -> None:
    with pytest.raises(ValueError, match="time zone"):
        MemoryCache().put_pointer(KEY, "b" * 64, created=datetime(2026, 1, 1))


def test_delete_reports_presence() -> None:
    cache = MemoryCache()
    cache.put_layer_bytes(KEY, created_by="RUN true", created=NOW)

    assert cache.delete(KEY) is True
    assert cache.delete(KEY) is False
    assert cache.lookup(KEY) is None


def test_memo_pins_hits_and_reprobes_misses() -> None:
    cache = MemoryCache()
    memo = MemoizedCache(cache, ttl=TTL, now=NOW)

    assert memo.probe(KEY).hit is False
    cache.put_layer_bytes(KEY, created_by="RUN true", created=NOW)
    first = memo.probe(KEY)
    cache.delete(KEY)
    second = memo.probe(KEY)

    assert first.hit is True
    assert second.hit is True
    assert second.memoized is True
    assert cache.lookups == [KEY, KEY]
    assert memo.holds(KEY) is True


def test_entry_older_than_ttl_is_expired_miss() -> None:
    cache = MemoryCache()
    cache.put_layer_bytes(KEY, created_by="RUN true", created=NOW - TTL - timedelta(seconds=1))
    memo = MemoizedCache(cache, ttl=TTL, now=NOW)

    result = memo.probe(KEY)

    assert result.hit is False
    assert result.expired is True
    assert memo.holds(KEY) is False


def test_entry_exactly_at_ttl_still_hits() -> None:
    cache = MemoryCache()
    cache.put_layer_bytes(KEY, created_by="RUN true", created=NOW - TTL)
    memo = MemoizedCache(cache, ttl=TTL, now=NOW)

    assert memo.probe(KEY).hit is True


def test_pointer_lookup_of_layer_entry_raises() -> None:
    cache = MemoryCache()
    cache.put_layer_bytes(KEY, created_by="COPY --from=a / /", created=NOW)
    memo = MemoizedCache(cache, ttl=TTL, now=NOW)

    with pytest.raises(CachePointerError, match=KEY):
        memo.resolve_pointer(KEY)


def test_pointer_lookup_returns_target() -> None:
    cache = MemoryCache()
    cache.put_pointer(KEY, "c" * 64, created=NOW)
    memo = MemoizedCache(cache, ttl=TTL, now=NOW)

    target, result = memo.resolve_pointer(KEY)

    assert target == "c" * 64
    assert result.hit is True
