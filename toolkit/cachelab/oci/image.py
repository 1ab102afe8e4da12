"""Images and where they live: a registry repository or an OCI image layout store.

An `Image` is a manifest plus a config, as raw bytes, and layers that are opened
lazily: a `Layer` has its digest, diff_id, size and media type and opens a fresh
stream of its blob on each `open()`. An image source resolves a tag or digest to
a platform manifest (choosing from an index) and opens blobs by digest; it also
writes images, blobs first and the manifest last, skipping blobs already there.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from cachelab.oci import mediatypes
from cachelab.oci._files import VerifyingReader, sha256_digest
from cachelab.oci.errors import LayoutError, ManifestNotFound, OCIError
from cachelab.oci.layout import LayoutStore
from cachelab.oci.manifest import (
    Descriptor,
    Platform,
    RawManifest,
    parse_config,
    parse_index,
    parse_manifest,
    platforms_of,
    select_platform,
)
from cachelab.oci.reference import (
    LayoutReference,
    Reference,
    is_loopback,
    parse_reference,
    parse_registry_reference,
)
from cachelab.oci.transfer import TransferStats

# Imported where used: the registry client imports httpx, which builds from
# layout stores never need, and layers bring tarfile and the codecs.
if TYPE_CHECKING:
    from cachelab.oci.layers import LayerFile
    from cachelab.oci.registry import RegistryClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """A platform manifest and its config as raw bytes (the planner's `BaseImage` shape)."""

    reference: str
    manifest: bytes
    manifest_digest: str
    config: bytes
    media_type: str


@dataclass(frozen=True, slots=True)
class Blob:
    """A blob to write: its descriptor facts and a function opening a fresh stream of it."""

    digest: str
    size: int
    media_type: str
    open: Callable[[], BinaryIO]
    # A local file of exactly these bytes whose digest was computed as it was
    # written. A layout store hard-links it instead of copying and hashing it.
    path: str | None = None

    @classmethod
    def from_layer_file(cls, layer: LayerFile) -> Blob:
        return cls(layer.digest, layer.size, layer.media_type, lambda: open(layer.path, "rb"), layer.path)

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str) -> Blob:
        return cls(sha256_digest(data), len(data), media_type, lambda: io.BytesIO(data))

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer of an image; `open()` returns a new stream of the compressed blob."""

    digest: str
    diff_id: str
    size: int
    media_type: str
    opener: Callable[[], BinaryIO]

    def open(self) -> BinaryIO:
        return self.opener()

    def open_uncompressed(self) -> BinaryIO:
        """Open the layer's tar stream, decompressed by the blob's magic bytes."""
        from cachelab.oci.compression import open_decompressed  # loads the zstd and ISA-L codecs

        return open_decompressed(self.opener())


class Image:
    """An image: raw manifest and config plus lazily opened layers."""

    def __init__(self, resolved: ResolvedImage, source: ImageSource) -> None:
        self.resolved = resolved
        self.source = source

    @property
    def reference(self) -> str:
        return self.resolved.reference

    @property
    def manifest(self) -> bytes:
        """The raw manifest bytes, whose sha256 is `manifest_digest`."""
        return self.resolved.manifest

    @property
    def manifest_digest(self) -> str:
        return self.resolved.manifest_digest

    @property
    def media_type(self) -> str:
        return self.resolved.media_type

    @property
    def config(self) -> bytes:
        """The raw config bytes."""
        return self.resolved.config

    @cached_property
    def manifest_json(self) -> dict[str, Any]:
        return json.loads(self.resolved.manifest)  # type: ignore[no-any-return]

    @cached_property
    def config_json(self) -> dict[str, Any]:
        return json.loads(self.resolved.config)  # type: ignore[no-any-return]

    def layers(self) -> list[Layer]:
        descriptors = self.manifest_json.get("layers") or []
        diff_ids = (self.config_json.get("rootfs") or {}).get("diff_ids") or []
        if len(descriptors) != len(diff_ids):
            raise OCIError(
                f"image {self.reference} has {len(descriptors)} layers but {len(diff_ids)} diff_ids in its config",
                hint="The image is malformed; rebuild or re-push it.",
            )
        return [
            Layer(d["digest"], diff_id, int(d["size"]), d.get("mediaType", ""),
                  _opener(self.source, d["digest"], int(d["size"])))
            for d, diff_id in zip(descriptors, diff_ids, strict=True)
        ]


def _opener(source: ImageSource, digest: str, size: int) -> Callable[[], BinaryIO]:
    return lambda: source.open_blob(digest, size=size)


class ImageSource(Protocol):
    """A place that stores images: one registry repository or one layout store."""

    def resolve(self, reference: str, *, platform: str | None = None) -> ResolvedImage: ...

    def open_blob(self, digest: str, *, size: int | None = None) -> BinaryIO: ...

    def write_image(self, manifest: bytes, media_type: str, blobs: Sequence[Blob], *, tag: str | None) -> str: ...


def resolve_manifest(
    reference: str,
    identifier: str,
    fetch: Callable[[str], RawManifest],
    read_blob: Callable[[str], bytes],
    platform: str | None,
) -> ResolvedImage:
    """Fetch a manifest, follow an index to the platform's manifest, and read the config.

    `identifier` is the tag or digest to fetch. `reference` is the image reference that
    errors and the result show. `fetch` takes a tag or digest, and `read_blob` returns a
    verified small blob. `platform` (`os/arch[/variant]`, default the host's) selects the
    manifest from an index.
    """
    raw = fetch(identifier)
    if mediatypes.is_index(raw.media_type):
        requested = Platform.parse(platform) if platform else Platform.host()
        index = parse_index(raw.data, reference=reference, digest=raw.digest)
        chosen = select_platform(index, requested)
        if chosen is None:
            raise ManifestNotFound(
                reference=reference, operation="selecting platform",
                detail=f"the index has no manifest for {requested} (it has {', '.join(platforms_of(index)) or 'none'})",
                hint="Pass a platform the index lists.",
            )
        raw = fetch(chosen.digest)
    if not mediatypes.is_manifest(raw.media_type):
        raise ManifestNotFound(reference=reference, operation="reading manifest",
                               detail=f"unsupported manifest media type {raw.media_type!r}")
    document = parse_manifest(raw.data, reference=reference, digest=raw.digest)
    config_digest = document["config"]["digest"]
    config = read_blob(config_digest)
    parse_config(config, reference=reference, digest=config_digest)
    return ResolvedImage(reference, raw.data, raw.digest, config, raw.media_type)


class RegistryImageSource:
    """One repository of a registry, as an image source and target."""

    def __init__(self, client: RegistryClient, repository: str) -> None:
        self.client = client
        self.repository = repository

    def __repr__(self) -> str:
        return f"RegistryImageSource({self.client.registry}/{self.repository})"

    def _reference(self, identifier: str) -> Reference:
        if identifier.startswith("sha256:"):
            return Reference(self.client.registry, self.repository, None, identifier)
        return Reference(self.client.registry, self.repository, identifier, None)

    def fetch_manifest(self, identifier: str) -> RawManifest:
        return self.client.get_manifest(self._reference(identifier))

    def read_blob(self, digest: str) -> bytes:
        with self.client.open_blob(self.repository, digest) as stream:
            return stream.read()

    def resolve(self, reference: str, *, platform: str | None = None) -> ResolvedImage:
        """Resolve a tag or digest of this repository (or a full reference to it)."""
        identifier = _identifier(reference)
        name = f"{self.client.registry}/{self.repository}"
        display_name = f"{name}@{identifier}" if identifier.startswith("sha256:") else f"{name}:{identifier}"
        return resolve_manifest(display_name, identifier, self.fetch_manifest, self.read_blob, platform)

    def open_blob(self, digest: str, *, size: int | None = None) -> BinaryIO:
        return self.client.open_blob(self.repository, digest, size=size)

    def has_blob(self, digest: str) -> bool:
        return self.client.head_blob(self.repository, digest) is not None

    def write_image(
        self, manifest: bytes, media_type: str, blobs: Sequence[Blob], *, tag: str | None,
        mount_from: str | None = None,
    ) -> str:
        """Push blobs (skipping present ones, mounting from `mount_from` when possible), then the manifest."""
        for blob in blobs:
            outcome = self.client.upload_blob(self.repository, blob.open, blob.digest, blob.size,
                                              mount_from=mount_from)
            logger.debug("blob %s: %s", blob.digest, outcome)
        reference = Reference(self.client.registry, self.repository, tag, None if tag else sha256_digest(manifest))
        return self.client.put_manifest(reference, manifest, media_type)


class LayoutImageSource:
    """An OCI image layout store, as an image source and target."""

    def __init__(self, store: LayoutStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"LayoutImageSource({str(self.store.path)!r})"

    def fetch_manifest(self, identifier: str) -> RawManifest:
        if not self.store.path.is_dir():
            raise LayoutError(
                f"OCI layout directory {self.store.path} not found (looking up {identifier!r})",
                hint="Check the DIR part of oci:DIR:TAG, or import or pull an image into it first.",
            )
        if not self.store.exists():
            raise LayoutError(
                f"{self.store.path} is not an OCI image layout: it has no oci-layout file (looking up {identifier!r})",
                hint="Check the DIR part of oci:DIR:TAG; it must name a directory that cachelab or another OCI tool wrote.",
            )
        descriptor = self.store.find(identifier)
        if descriptor is None:
            raise LayoutError(
                f"no manifest {identifier!r} in layout {self.store.path} (tags: {', '.join(self.store.tags()) or 'none'})",
                hint="Check the tag or digest; `cachelab store check DIR` lists the store's state.",
            )
        data = self.store.read_blob(descriptor["digest"])
        media_type = descriptor.get("mediaType") or _media_type_in(data)
        return RawManifest(data, media_type, descriptor["digest"])

    def read_blob(self, digest: str) -> bytes:
        return self.store.read_blob(digest)

    def resolve(self, reference: str, *, platform: str | None = None) -> ResolvedImage:
        identifier = _identifier(reference)
        display_name = str(LayoutReference(str(self.store.path), None if identifier.startswith("sha256:") else identifier,
                                    identifier if identifier.startswith("sha256:") else None))
        return resolve_manifest(display_name, identifier, self.fetch_manifest, self.read_blob, platform)

    def open_blob(self, digest: str, *, size: int | None = None) -> BinaryIO:
        """Open a blob; reading it to the end verifies its digest."""
        stream = self.store.open_blob(digest)
        return VerifyingReader(stream, digest, where=f"blob in layout {self.store.path}")  # type: ignore[return-value]

    def has_blob(self, digest: str) -> bool:
        return self.store.has_blob(digest)

    def blob_file(self, digest: str) -> Path | None:
        """Return the file holding blob `digest`, or None when the store lacks it. Its content is not verified."""
        path = self.store.blob_path(digest)
        return path if path.is_file() else None

    def write_image(self, manifest: bytes, media_type: str, blobs: Sequence[Blob], *, tag: str | None) -> str:
        """Write blobs (skipping present ones), the manifest, then the tag.

        A blob with a local `path` is hard-linked and trusted; any other blob is
        copied and verified against its digest.
        """
        for blob in blobs:
            if self.store.has_blob(blob.digest):
                continue
            if blob.path is not None:
                self.store.link_blob_file(blob.path, blob.digest)
                continue
            with blob.open() as stream:
                self.store.write_blob(stream, blob.digest)
        return str(self.store.put_manifest(manifest, media_type, tag=tag)["digest"])


def _media_type_in(data: bytes) -> str:
    """Return the `mediaType` field of a manifest, or "" when it has none or is no JSON object."""
    try:
        document = json.loads(data)
    except ValueError:
        return ""
    media_type = document.get("mediaType") if isinstance(document, dict) else None
    return media_type if isinstance(media_type, str) else ""


def _identifier(reference: str) -> str:
    """Return the tag or digest that a tag, digest or full reference names."""
    if reference.startswith("sha256:"):
        return reference
    if reference.startswith("oci:"):
        parsed_layout = parse_reference(reference)
        return parsed_layout.identifier
    if "/" in reference or "@" in reference:
        return parse_registry_reference(reference).identifier
    return reference


class ImageResolver:
    """Resolves any reference, registry or `oci:`, to a base image (the planner's `BaseImageSource`).

    Registry clients are created once per host and share `stats`. `insecure`
    lists hosts that may be spoken to over plain HTTP besides loopback ones.
    """

    def __init__(
        self,
        *,
        insecure: Sequence[str] = (),
        stats: TransferStats | None = None,
        client_factory: Callable[[str], RegistryClient] | None = None,
    ) -> None:
        self.stats = stats if stats is not None else TransferStats()
        self._insecure = set(insecure)
        self._factory = client_factory
        self._clients: dict[str, RegistryClient] = {}

    def client(self, registry: str) -> RegistryClient:
        if registry not in self._clients:
            if self._factory is not None:
                self._clients[registry] = self._factory(registry)
            else:
                from cachelab.oci.registry import RegistryClient

                self._clients[registry] = RegistryClient(
                    registry, insecure=registry in self._insecure or is_loopback(registry), stats=self.stats
                )
        return self._clients[registry]

    def source_for(self, reference: str) -> RegistryImageSource | LayoutImageSource:
        parsed = parse_reference(reference)
        if isinstance(parsed, LayoutReference):
            return LayoutImageSource(LayoutStore(parsed.path))
        return RegistryImageSource(self.client(parsed.registry), parsed.repository)

    def resolve(self, reference: str, *, platform: str | None = None) -> ResolvedImage:
        resolved = self.source_for(reference).resolve(reference, platform=platform)
        return ResolvedImage(reference, resolved.manifest, resolved.manifest_digest, resolved.config,
                             resolved.media_type)

    def image(self, reference: str, *, platform: str | None = None) -> Image:
        source = self.source_for(reference)
        return Image(self.resolve(reference, platform=platform), source)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

