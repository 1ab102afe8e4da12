"""What the planner needs from a cache store and from a base-image source.

These are structural protocols: `cachelab.oci` (registry repository, OCI layout
store) and the in-memory test cache implement them without importing this module,
so the dependency points down.

A cache store contains kaniko's two kinds of entry under the tag `<key>` (64 hex):
a layer entry (an image with exactly one layer, whose history names the
instruction) and a pointer entry (an image with no layers whose config has the
label `kaniko.cache.pointer-target` = the content key state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

POINTER_LABEL = "kaniko.cache.pointer-target"


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cache entry as a probe reads it: its manifest and config, no layer bytes."""

    key: str
    created: datetime  # the config's `created`, timezone-aware UTC
    layer_digest: str | None = None  # compressed digest of the single layer
    layer_size: int | None = None
    layer_media_type: str | None = None
    diff_id: str | None = None
    pointer_target: str | None = None  # the pointer label, for pointer entries
    created_by: str | None = None  # history of the layer: the instruction text
    manifest_digest: str | None = None
    # Set only for an entry with more than one layer, which no hit can apply.
    # Otherwise an entry has one layer when `layer_digest` is set and none when it is not.
    layer_count: int | None = None


class LayerBlob(Protocol):
    """A compressed layer the builder produced, ready to be stored."""

    path: str  # file holding the compressed blob
    digest: str  # "sha256:<hex>" of the compressed bytes
    size: int
    diff_id: str  # "sha256:<hex>" of the uncompressed tar
    media_type: str


class LayerCache(Protocol):
    """A kaniko cache repository: `<repo>:<key>` entries."""

    def lookup(self, key: str) -> CacheEntry | None:
        """Fetch the manifest and config tagged `key`; None when absent.

        Expiry (`--cache-ttl`) is the planner's decision, made from `created`.
        """
        ...

    def open_layer(self, entry: CacheEntry) -> BinaryIO:
        """Open a stream of the entry's compressed layer blob."""
        ...

    def put_layer(self, key: str, layer: LayerBlob, *, created_by: str, created: datetime) -> None:
        """Store a one-layer entry under `key`; visible to `lookup` only once complete."""
        ...

    def put_pointer(self, key: str, target: str, *, created: datetime) -> None:
        """Store a zero-layer pointer entry under `key` whose label is `target`."""
        ...


@dataclass(frozen=True, slots=True)
class BaseImage:
    """A resolved base image: the platform manifest and config, as raw bytes."""

    reference: str
    manifest: bytes
    manifest_digest: str  # digest of `manifest`, as the registry names it
    config: bytes
    media_type: str
    # kaniko's seed for this base (the digest of its rewritten manifest) when it is
    # known from a record; None means the planner derives it from the two documents.
    seed: str | None = None


class BaseImageSource(Protocol):
    """Resolves FROM and `COPY --from=<image>` references to manifest and config."""

    def resolve(self, reference: str, *, platform: str | None = None) -> BaseImage:
        ...
