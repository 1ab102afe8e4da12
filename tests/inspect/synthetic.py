"""Small hand-made images for the inspection tests: layers from tar entry lists."""

from __future__ import annotations

import gzip
import hashlib
import tarfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cachelab.oci import mediatypes
from cachelab.oci.image import Blob, ImageResolver
from cachelab.oci.layout import LayoutStore
from cachelab.oci.manifest import Descriptor, Platform, build_config, build_index, build_manifest
from tests.oci.test_extract import entry, make_tar

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
Entries = list[tuple[tarfile.TarInfo, bytes]]


def gzip_fixed(data: bytes) -> bytes:
    """Gzip with a zero header mtime, so equal tars give equal blobs whenever they are written."""
    return gzip.compress(data, mtime=0)


__all__ = ["CREATED", "Entries", "SyntheticImage", "entry", "write_image", "write_multi_platform_layout"]


class SyntheticImage:
    """An image written by `write_image`: its manifest digest and its layers' blob digests."""

    def __init__(self, reference: str, manifest_digest: str, layer_digests: list[str], manifest: bytes,
                 media_type: str) -> None:
        self.reference = reference
        self.manifest_digest = manifest_digest
        self.layer_digests = layer_digests
        self.manifest = manifest
        self.media_type = media_type


def write_image(
    reference: str | None,
    layers: Sequence[Entries],
    *,
    history: list[dict[str, Any]] | None = None,
    diff_ids: list[str] | None = None,
    platform: Platform | None = None,
    compress: Callable[[bytes], bytes] = gzip_fixed,
    media_type: str = mediatypes.OCI_LAYER_GZIP,
    env: list[str] | None = None,
    labels: dict[str, str] | None = None,
    resolver: ImageResolver | None = None,
) -> SyntheticImage:
    """Write an image whose layers contain `layers` to `reference` (None: build it without writing).

    Without `history` each layer gets one entry `created_by: "layer <i>"`.
    `diff_ids` replaces the true ones, to make a malformed config.
    """
    tars = [make_tar(list(entries)) for entries in layers]
    blobs = [Blob.from_bytes(compress(data), media_type) for data in tars]
    true_diff_ids = ["sha256:" + hashlib.sha256(data).hexdigest() for data in tars]
    if history is None:
        history = [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(layers))]
    config = build_config(diff_ids=diff_ids or true_diff_ids, created=CREATED, history=history,
                          env=env, labels=labels, target=platform or Platform("linux", "amd64"))
    manifest, manifest_type = build_manifest(config, [blob.descriptor() for blob in blobs])
    config_blob = Blob.from_bytes(config, mediatypes.config_media_type_for(manifest_type))
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    if reference is not None:
        owned = resolver is None
        resolver = resolver or ImageResolver()
        try:
            target = resolver.source_for(reference)
            tag = reference.rsplit(":", 1)[1] if "@" not in reference else None
            digest = target.write_image(manifest, manifest_type, [*blobs, config_blob], tag=tag)
        finally:
            if owned:
                resolver.close()
    return SyntheticImage(reference or "", digest, [blob.digest for blob in blobs], manifest, manifest_type)


def descriptor_of(image: SyntheticImage, platform: Platform) -> Descriptor:
    """Return an index entry for `image` on `platform`."""
    document = {"os": platform.os, "architecture": platform.architecture}
    return Descriptor(image.media_type, image.manifest_digest, len(image.manifest), platform=document)


def write_multi_platform_layout(store: Path) -> tuple[str, str, str]:
    """Write a linux/amd64 and a linux/arm64 image and an index of both tagged "multi".

    Returns the digests of the index, the amd64 manifest and the arm64 manifest.
    """
    amd64 = write_image(f"oci:{store}:amd64", [[entry("arch", data=b"amd64")]], platform=Platform("linux", "amd64"))
    arm64 = write_image(f"oci:{store}:arm64", [[entry("arch", data=b"arm64")]], platform=Platform("linux", "arm64"))
    index, media_type = build_index([descriptor_of(amd64, Platform("linux", "amd64")),
                                     descriptor_of(arm64, Platform("linux", "arm64"))])
    descriptor = LayoutStore(store).put_manifest(index, media_type, tag="multi")
    return descriptor["digest"], amd64.manifest_digest, arm64.manifest_digest
