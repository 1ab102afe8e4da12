"""kaniko's layer cache on a registry repository or on OCI image layouts.

An entry is an image tagged with its 64-hex cache key:

* a layer entry has exactly one layer; its config's `created` is the push time
  and its history has one item (author `kaniko`, created_by = the instruction);
* a pointer entry has no layers and the config label
  `kaniko.cache.pointer-target` naming the content key state.

Three backends (`cache_location_kind` tells them apart by the string):

* `host[:port]/repo` - registry entries `<repo>:<key>`, as kaniko's `--cache-repo`;
* `oci:DIR` - kaniko's layout form: each key is its own layout directory
  `DIR:<key>`, and a lookup takes the last manifest of that layout's index;
* `DIR` (a plain path) - one layout store whose tags are the keys. This is the
  default store of cachelab: one directory, shared blobs, `cachelab store check`.

A put writes every blob first and the tag (or the key's directory) last, so a
lookup never returns a half-written entry. The classes match the planner's
`LayerCache` protocol structurally and return `CachedLayer`, whose fields are
those of the planner's `CacheEntry`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from cachelab.oci import mediatypes
from cachelab.oci.errors import InvalidReference, LayoutError, ManifestNotFound, OCIError
from cachelab.oci.image import Blob, LayoutImageSource, RegistryImageSource
from cachelab.oci.layout import LayoutStore
from cachelab.oci.manifest import (
    build_config,
    build_manifest,
    parse_config,
    parse_manifest,
    parse_rfc3339,
    rfc3339,
)
from cachelab.oci.reference import is_loopback, names_registry_host, parse_registry_reference

if TYPE_CHECKING:
    # Imported when a registry cache is opened, because it imports httpx.
    from cachelab.oci.registry import RegistryClient

logger = logging.getLogger(__name__)

POINTER_LABEL = "kaniko.cache.pointer-target"
HISTORY_AUTHOR = "kaniko"
# A registry host with a port and nothing after it, such as `localhost:5000`.
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:[0-9]+$")


class InvalidCacheEntry(OCIError):
    """A tag in the cache that is not a kaniko cache entry (for example two layers).

    `entry` is set when only the layer count is wrong. kaniko finds such an
    entry like any other and fails only when a build applies it, so a builder
    can take the entry as found and reject it there.
    """

    default_hint = "Delete the entry; the next build that misses it writes a new one."

    def __init__(self, message: str, *, hint: str | None = None, entry: CachedLayer | None = None) -> None:
        super().__init__(message, hint=hint)
        self.entry = entry


class LayerBlobLike(Protocol):
    path: str
    digest: str
    size: int
    diff_id: str
    media_type: str


@dataclass(frozen=True, slots=True)
class CachedLayer:
    """One cache entry as a probe reads it: its manifest and config, no layer bytes."""

    key: str
    created: datetime
    layer_digest: str | None = None
    layer_size: int | None = None
    layer_media_type: str | None = None
    diff_id: str | None = None
    pointer_target: str | None = None
    created_by: str | None = None
    manifest_digest: str | None = None
    layer_count: int | None = None


def parse_entry(key: str, manifest: bytes, manifest_digest: str, config: bytes) -> CachedLayer:
    """Read a cache entry from its raw manifest and config.

    Raises InvalidManifest for bytes that are no manifest or config, and
    InvalidCacheEntry for a valid image that is not a kaniko cache entry.
    """
    document = parse_manifest(manifest, reference=f"cache entry {key}", digest=manifest_digest)
    config_json = parse_config(config, reference=f"cache entry {key}", digest=None)
    layers = document.get("layers") or []
    labels = (config_json.get("config") or {}).get("Labels") or {}
    if not isinstance(labels, dict):
        raise InvalidCacheEntry(f"cache entry {key} has config Labels that are not a JSON object")
    history = config_json.get("history") or []
    if history and not isinstance(history[-1], dict):
        raise InvalidCacheEntry(f"cache entry {key} has a history item that is not a JSON object")
    try:
        created = parse_rfc3339(str(config_json.get("created") or "1970-01-01T00:00:00Z"))
    except ValueError as error:
        raise InvalidCacheEntry(f"cache entry {key} has an invalid config 'created' time: {error}") from None
    created_by = history[-1].get("created_by") if history else None
    if not layers:
        return CachedLayer(key, created, pointer_target=labels.get(POINTER_LABEL), created_by=created_by,
                           manifest_digest=manifest_digest)
    if len(layers) != 1:
        found = CachedLayer(key, created, created_by=created_by, manifest_digest=manifest_digest,
                            layer_count=len(layers))
        raise InvalidCacheEntry(f"cache entry {key} has {len(layers)} layers; a layer entry has exactly one",
                                entry=found)
    diff_ids = (config_json.get("rootfs") or {}).get("diff_ids") or []
    layer = layers[0]
    return CachedLayer(
        key, created, layer_digest=layer["digest"], layer_size=int(layer["size"]),
        layer_media_type=layer.get("mediaType"), diff_id=diff_ids[0] if diff_ids else None,
        created_by=created_by, manifest_digest=manifest_digest,
    )


def layer_entry_image(layer: LayerBlobLike, *, created_by: str, created: datetime) -> tuple[bytes, str, list[Blob]]:
    """Build the manifest, media type and blobs of a one-layer cache entry."""
    history = [{"created": rfc3339(created), "author": HISTORY_AUTHOR, "created_by": created_by}]
    config = build_config(diff_ids=[layer.diff_id], created=created, history=history)
    layer_blob = Blob(layer.digest, layer.size, layer.media_type, lambda: open(layer.path, "rb"), layer.path)
    docker = mediatypes.is_docker(layer.media_type)
    manifest, media_type = build_manifest(config, [layer_blob.descriptor()], docker=docker)
    config_blob = Blob.from_bytes(config, mediatypes.config_media_type_for(media_type))
    return manifest, media_type, [layer_blob, config_blob]


def pointer_entry_image(target: str, *, created: datetime) -> tuple[bytes, str, list[Blob]]:
    """Build the manifest, media type and blobs of a zero-layer pointer entry."""
    config = build_config(diff_ids=[], created=created, history=[], labels={POINTER_LABEL: target})
    manifest, media_type = build_manifest(config, [])
    return manifest, media_type, [Blob.from_bytes(config, mediatypes.config_media_type_for(media_type))]


class _TaggedEntries:
    """Writing entries as tags of one image source; the tag is written after the blobs."""

    source: RegistryImageSource | LayoutImageSource

    def put_layer(self, key: str, layer: LayerBlobLike, *, created_by: str, created: datetime) -> None:
        manifest, media_type, blobs = layer_entry_image(layer, created_by=created_by, created=created)
        self.source.write_image(manifest, media_type, blobs, tag=key)

    def put_pointer(self, key: str, target: str, *, created: datetime) -> None:
        manifest, media_type, blobs = pointer_entry_image(target, created=created)
        self.source.write_image(manifest, media_type, blobs, tag=key)


class RegistryLayerCache(_TaggedEntries):
    """Cache entries as tags `<key>` of one registry repository."""

    source: RegistryImageSource

    def __init__(self, client: RegistryClient, repository: str) -> None:
        self.source = RegistryImageSource(client, repository)

    def __repr__(self) -> str:
        return f"RegistryLayerCache({self.source.client.registry}/{self.source.repository})"

    def lookup(self, key: str) -> CachedLayer | None:
        """Fetch the entry tagged `key` (manifest GET, then config GET); None on 404.

        Other failures raise RegistryError. kaniko counts any probe error as a miss;
        here the caller decides.
        """
        try:
            resolved = self.source.resolve(key)
        except ManifestNotFound:
            return None
        return parse_entry(key, resolved.manifest, resolved.manifest_digest, resolved.config)

    def open_layer(self, entry: CachedLayer) -> BinaryIO:
        return self.source.open_blob(_layer_digest(entry), size=entry.layer_size)


class LayoutLayerCache(_TaggedEntries):
    """Cache entries as tags of one OCI image layout store (cachelab's default)."""

    source: LayoutImageSource

    def __init__(self, store: LayoutStore | str | os.PathLike[str]) -> None:
        self.store = store if isinstance(store, LayoutStore) else LayoutStore(store)
        self.source = LayoutImageSource(self.store)

    def __repr__(self) -> str:
        return f"LayoutLayerCache({str(self.store.path)!r})"

    def lookup(self, key: str) -> CachedLayer | None:
        if self.store.find(key) is None:
            return None
        resolved = self.source.resolve(key)
        return parse_entry(key, resolved.manifest, resolved.manifest_digest, resolved.config)

    def open_layer(self, entry: CachedLayer) -> BinaryIO:
        return self.source.open_blob(_layer_digest(entry))

    def layer_file(self, entry: CachedLayer) -> Path | None:
        """Return the local file of an entry's layer blob (unverified), or None when it is missing."""
        return self.source.blob_file(_layer_digest(entry))


class KanikoLayoutCache:
    """kaniko's `oci:DIR` cache: one OCI layout directory `DIR:<key>` per entry."""

    def __init__(self, prefix: str | os.PathLike[str]) -> None:
        self.prefix = str(prefix)

    def __repr__(self) -> str:
        return f"KanikoLayoutCache({self.prefix!r})"

    def entry_path(self, key: str) -> Path:
        return Path(f"{self.prefix}:{key}")

    def lookup(self, key: str) -> CachedLayer | None:
        store = LayoutStore(self.entry_path(key))
        if not store.exists():
            return None
        manifests = store.read_index()["manifests"]
        if not manifests:
            return None
        # kaniko reads the last manifest of the entry's index.
        digest = manifests[-1]["digest"]
        resolved = LayoutImageSource(store).resolve(digest)
        return parse_entry(key, resolved.manifest, resolved.manifest_digest, resolved.config)

    def open_layer(self, entry: CachedLayer) -> BinaryIO:
        return LayoutImageSource(LayoutStore(self.entry_path(entry.key))).open_blob(_layer_digest(entry))

    def layer_file(self, entry: CachedLayer) -> Path | None:
        """Return the local file of an entry's layer blob (unverified), or None when it is missing."""
        return LayoutImageSource(LayoutStore(self.entry_path(entry.key))).blob_file(_layer_digest(entry))

    def put_layer(self, key: str, layer: LayerBlobLike, *, created_by: str, created: datetime) -> None:
        self._put(key, *layer_entry_image(layer, created_by=created_by, created=created))

    def put_pointer(self, key: str, target: str, *, created: datetime) -> None:
        self._put(key, *pointer_entry_image(target, created=created))

    def _put(self, key: str, manifest: bytes, media_type: str, blobs: list[Blob]) -> None:
        final = self.entry_path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Build the whole layout beside its final name, then rename it into place,
        # so a lookup finds either no directory or a complete one.
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            LayoutImageSource(LayoutStore(staging)).write_image(manifest, media_type, blobs, tag="latest")
            try:
                os.rename(staging, final)
            except OSError:
                if not final.is_dir():
                    raise
                # Another writer stored this key first; both entries are equivalent.
                logger.debug("cache entry %s already exists; keeping it", final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


# Kinds of cache location, as `cache_location_kind` returns them.
LAYOUT_STORE = "layout"  # one OCI image layout whose tags are the keys
KANIKO_LAYOUT = "oci"  # kaniko's `oci:DIR`: one layout directory `DIR:<key>` per key
REGISTRY_REPOSITORY = "registry"  # tags of a registry repository


def cache_location_kind(location: str) -> str:
    """Classify a cache location as KANIKO_LAYOUT, LAYOUT_STORE or REGISTRY_REPOSITORY.

    `oci:DIR` is kaniko's layout form. Any other location is a registry
    repository only when its first path component names a registry host, as
    Docker's reference grammar defines one (`127.0.0.1:5000/cache`,
    `registry.example.com/team/cache`, `localhost/cache`), and no directory of
    that name exists. Everything else (`newcache`, `team/cache`, `./dir`) is a
    local layout store, so a mistyped or not yet created store never sends
    requests to Docker Hub. Raises InvalidReference for an empty location and
    for a bare `HOST:PORT`, which names a registry but no repository.
    """
    if not location.strip():
        raise InvalidReference(location, "the cache location is empty")
    if location.startswith("oci:"):
        return KANIKO_LAYOUT
    first, slash, _ = location.partition("/")
    if not slash:
        if _HOST_PORT.match(location):
            raise InvalidReference(
                location, "it names a registry host but no repository; pass HOST[:PORT]/REPO, "
                f"or ./{location} for a local directory")
        return LAYOUT_STORE
    if first in (".", "..") or not names_registry_host(first) or Path(location).is_dir():
        return LAYOUT_STORE
    return REGISTRY_REPOSITORY


def open_layer_cache(location: str, *, client: RegistryClient | None = None) -> RegistryLayerCache | LayoutLayerCache | KanikoLayoutCache:
    """Open a cache by its location string: `oci:DIR`, a local directory, or `host/repo`.

    `cache_location_kind` decides which of the three the string names.
    """
    kind = cache_location_kind(location)
    if kind == KANIKO_LAYOUT:
        prefix = location[len("oci:"):]
        if not prefix:
            raise LayoutError(f"invalid cache location {location!r}: the directory is empty")
        return KanikoLayoutCache(prefix)
    if kind == LAYOUT_STORE:
        return LayoutLayerCache(location)
    reference = parse_registry_reference(location)
    if client is None:
        from cachelab.oci.registry import RegistryClient

        client = RegistryClient(reference.registry, insecure=is_loopback(reference.registry))
    return RegistryLayerCache(client, reference.repository)


def _layer_digest(entry: CachedLayer) -> str:
    if entry.layer_digest is None:
        raise InvalidCacheEntry(f"cache entry {entry.key} is a pointer entry and has no layer")
    return entry.layer_digest
