"""The three places a kaniko layer cache lives, seen as a list of keys to read and delete.

* a layout store `DIR`: one OCI image layout whose tags are the keys
  (cachelab's default cache);
* kaniko's layout form `oci:DIR`: one layout directory `DIR:<key>` per key;
* a registry repository `HOST[:PORT]/REPO`: tags `<key>`.

Only tags of 64 lowercase hex characters are cache keys; other tags are ignored.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cachelab.cachels.errors import CacheStoreError
from cachelab.oci.cache import (
    KANIKO_LAYOUT,
    LAYOUT_STORE,
    CachedLayer,
    KanikoLayoutCache,
    LayoutLayerCache,
    RegistryLayerCache,
    cache_location_kind,
)
from cachelab.oci.errors import InvalidReference, ManifestNotFound
from cachelab.oci.layout import LayoutStore
from cachelab.oci.reference import Reference, parse_registry_reference
from cachelab.oci.registry import RegistryClient, is_loopback

logger = logging.getLogger(__name__)

CACHE_KEY = re.compile(r"^[0-9a-f]{64}$")


class CacheStore(Protocol):
    """A cache location that can list, read and delete its entries."""

    location: str
    kind: str  # "layout", "kaniko-layout" or "registry"

    @property
    def cache(self) -> LayoutLayerCache | KanikoLayoutCache | RegistryLayerCache:
        """The same cache as the planner and the builder read it (their `LayerCache`)."""
        ...

    def list_keys(self) -> list[str]: ...

    def lookup(self, key: str) -> CachedLayer | None: ...

    def delete(self, entries: Sequence[CachedLayer], *, protected: AbstractSet[str] = frozenset()) -> list[tuple[str, str | None]]:
        """Delete entries; returns (key, None) for each deleted one and (key, reason) for the others.

        `protected` lists manifest digests that entries being kept point to.
        """
        ...

    def collect_blobs(self) -> BlobCollection | None:
        """Delete the blobs that deleted entries left unreferenced, and return the outcome.

        Returns None for stores without shared blobs.
        """
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BlobCollection:
    """Outcome of collecting a layout store's unreferenced blobs after a prune.

    `kept_*` count the unreferenced blobs spared because they were modified
    less than `keep_newer_than` seconds ago.
    """

    freed_blobs: int
    freed_bytes: int
    kept_blobs: int
    kept_bytes: int
    keep_newer_than: float


class LayoutCacheStore:
    """A layout store whose tags are cache keys; deleting untags, then collects unreferenced blobs."""

    kind = "layout"

    def __init__(self, location: str, *, keep_newer_than: float = 300.0) -> None:
        self.location = location
        self.cache = LayoutLayerCache(location)
        self.store: LayoutStore = self.cache.store
        self.keep_newer_than = keep_newer_than
        if not self.store.path.exists():
            raise CacheStoreError(f"cache store {location} does not exist",
                                  hint="Pass the directory a build used as --cache-repo, or oci:DIR for kaniko's form.")
        if not self.store.exists():
            raise CacheStoreError(f"cache store {location} is not an OCI image layout (no oci-layout file)",
                                  hint="Pass the directory a build used as --cache-repo, or oci:DIR for kaniko's form.")

    def list_keys(self) -> list[str]:
        return [tag for tag in self.store.tags() if CACHE_KEY.match(tag)]

    def lookup(self, key: str) -> CachedLayer | None:
        return self.cache.lookup(key)

    def delete(self, entries: Sequence[CachedLayer], *, protected: AbstractSet[str] = frozenset()) -> list[tuple[str, str | None]]:
        outcomes: list[tuple[str, str | None]] = []
        for entry in entries:
            removed = self.store.untag(entry.key)
            outcomes.append((entry.key, None if removed else "tag already gone"))
        return outcomes

    def collect_blobs(self) -> BlobCollection:
        sizes_before = self._unreferenced_blob_sizes()
        # Blobs younger than keep_newer_than may belong to a put whose tag is not written yet.
        removed = self.store.gc(keep_newer_than=self.keep_newer_than)
        kept = self._unreferenced_blob_sizes()
        collection = BlobCollection(
            freed_blobs=len(removed),
            freed_bytes=sum(sizes_before.get(digest, 0) for digest in removed),
            kept_blobs=len(kept),
            kept_bytes=sum(kept.values()),
            keep_newer_than=self.keep_newer_than,
        )
        logger.info("removed %d unreferenced blobs of %s, kept %d younger than %g s",
                    collection.freed_blobs, self.location, collection.kept_blobs, self.keep_newer_than)
        return collection

    def _unreferenced_blob_sizes(self) -> dict[str, int]:
        """Return the size of every blob no tag reaches, by digest."""
        reachable = self.store.referenced_blobs()
        directory = self.store.path / "blobs" / "sha256"
        if not directory.is_dir():
            return {}
        sizes = {}
        for path in directory.iterdir():
            digest = "sha256:" + path.name
            # Names starting with a dot are blobs still being written.
            if not path.name.startswith(".") and digest not in reachable:
                sizes[digest] = path.stat().st_size
        return sizes

    def close(self) -> None:
        return None


class KanikoLayoutCacheStore:
    """kaniko's `oci:DIR` form: every key is a layout directory `DIR:<key>`."""

    kind = "kaniko-layout"

    def __init__(self, location: str) -> None:
        self.location = location
        self.cache = KanikoLayoutCache(location[len("oci:"):])
        prefix = Path(self.cache.prefix)
        self.parent = prefix.parent
        self.name_prefix = prefix.name + ":"
        if not self.parent.is_dir():
            raise CacheStoreError(f"cache directory {self.parent} for {location} does not exist")

    def list_keys(self) -> list[str]:
        found = []
        for path in sorted(self.parent.iterdir()):
            if path.is_dir() and path.name.startswith(self.name_prefix):
                key = path.name[len(self.name_prefix):]
                if CACHE_KEY.match(key):
                    found.append(key)
        return found

    def lookup(self, key: str) -> CachedLayer | None:
        return self.cache.lookup(key)

    def delete(self, entries: Sequence[CachedLayer], *, protected: AbstractSet[str] = frozenset()) -> list[tuple[str, str | None]]:
        outcomes: list[tuple[str, str | None]] = []
        for entry in entries:
            path = self.cache.entry_path(entry.key)
            if not path.is_dir():
                outcomes.append((entry.key, "directory already gone"))
                continue
            shutil.rmtree(path)
            outcomes.append((entry.key, None))
        return outcomes

    def collect_blobs(self) -> None:
        # Each key's directory contains its own blobs, which `delete` removed with it.
        return None

    def close(self) -> None:
        return None


class RegistryCacheStore:
    """A registry repository whose tags are cache keys; deleting removes manifests by digest."""

    kind = "registry"

    def __init__(self, location: str, *, insecure: Sequence[str] = ()) -> None:
        self.location = location
        reference = parse_registry_reference(location)
        if reference.tag not in (None, "latest") or reference.digest is not None:
            raise CacheStoreError(f"cache repository {location} names a tag or digest; pass only HOST[:PORT]/REPO")
        self.registry = reference.registry
        self.repository = reference.repository
        self.client = RegistryClient(self.registry, insecure=self.registry in insecure or is_loopback(self.registry))
        self.cache = RegistryLayerCache(self.client, self.repository)

    def list_keys(self) -> list[str]:
        try:
            tags = self.client.list_tags(self.repository)
        except ManifestNotFound as error:
            raise CacheStoreError(
                f"cache repository {self.registry}/{self.repository} not found (HTTP {error.status})",
                hint="Check the repository name; a build with --cache-repo creates it on its first push.",
            ) from error
        return sorted(tag for tag in tags if CACHE_KEY.match(tag))

    def lookup(self, key: str) -> CachedLayer | None:
        return self.cache.lookup(key)

    def delete(self, entries: Sequence[CachedLayer], *, protected: AbstractSet[str] = frozenset()) -> list[tuple[str, str | None]]:
        """Delete each entry's manifest by digest, once per digest.

        Deleting a manifest removes every tag that points to it, so a manifest
        in `protected` (one that a kept key also names) is not deleted. A registry that rejects
        deletes (distribution returns 405 unless deletes are enabled) leaves the
        entry in place and its reason is returned.
        """
        from cachelab.oci.errors import RegistryError

        outcomes: list[tuple[str, str | None]] = []
        done: dict[str, str | None] = {}
        for entry in entries:
            digest = entry.manifest_digest
            if digest is None:
                outcomes.append((entry.key, "no manifest digest"))
                continue
            if digest in protected:
                outcomes.append((entry.key, f"manifest {digest} is also tagged by a kept key"))
                continue
            if digest not in done:
                try:
                    self.client.delete_manifest(Reference(self.registry, self.repository, None, digest))
                    done[digest] = None
                except ManifestNotFound:
                    done[digest] = None
                except RegistryError as error:
                    done[digest] = f"delete rejected: {error}"
            outcomes.append((entry.key, done[digest]))
        return outcomes

    def collect_blobs(self) -> None:
        # A registry keeps the blobs of deleted manifests until its operator runs its
        # garbage collection (`registry garbage-collect` in distribution).
        return None

    def close(self) -> None:
        self.client.close()


def open_cache_store(location: str, *, insecure: Sequence[str] = (), keep_newer_than: float = 300.0) -> CacheStore:
    """Open the cache at `location`: `oci:DIR`, a local directory, or `HOST[:PORT]/REPO`.

    `cachelab.oci.cache.cache_location_kind` decides which of the three it is,
    as for `cachelab build --cache-repo`.
    """
    try:
        kind = cache_location_kind(location)
    except InvalidReference as error:
        raise CacheStoreError(f"cache location {location!r}: {error.reason}") from None
    if kind == KANIKO_LAYOUT:
        if location == "oci:":
            raise CacheStoreError("cache location 'oci:' names no directory")
        return KanikoLayoutCacheStore(location)
    if kind == LAYOUT_STORE:
        return LayoutCacheStore(location, keep_newer_than=keep_newer_than)
    return RegistryCacheStore(location, insecure=insecure)
