"""Copying an image between a registry repository and an OCI image layout store.

Blobs go first and the manifest last, so the destination never names content it
does not have. Every blob is read through a verifying stream (a registry
download or a layout blob checks its sha256 at the end), and blobs the
destination already has are skipped without being read. With `all_platforms`
an index is copied whole: each platform manifest, then the index itself.
Otherwise the platform manifest is chosen from an index and copied alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from cachelab.oci import mediatypes
from cachelab.oci.errors import ManifestNotFound, OCIError
from cachelab.oci.image import (
    ImageResolver,
    LayoutImageSource,
    RegistryImageSource,
    resolve_manifest,
)
from cachelab.oci.manifest import parse_index, parse_manifest
from cachelab.oci.reference import LayoutReference, Reference, parse_reference
from cachelab.oci.registry import RawManifest

logger = logging.getLogger(__name__)

ImageStore = RegistryImageSource | LayoutImageSource


@dataclass
class CopyResult:
    """Outcome of a copy: the top manifest's digest and the counts of blobs sent or skipped."""

    source: str
    destination: str
    manifest_digest: str = ""
    media_type: str = ""
    manifests: int = 0
    blobs_copied: int = 0
    blobs_skipped: int = 0
    bytes_copied: int = 0
    platforms: list[str] = field(default_factory=list)


def copy_image(
    source_ref: str,
    destination_ref: str,
    *,
    all_platforms: bool = False,
    platform: str | None = None,
    resolver: ImageResolver | None = None,
) -> CopyResult:
    """Copy the image `source_ref` names to `destination_ref` and tag it there.

    Both references are registry references or `oci:DIR:TAG`. A destination
    given by digest is written without a tag; its digest must match the copied
    manifest's.
    """
    owned = resolver is None
    resolver = resolver or ImageResolver()
    try:
        source = resolver.source_for(source_ref)
        destination = resolver.source_for(destination_ref)
        copier = _Copier(source, destination, CopyResult(source_ref, destination_ref))
        top = _fetch_top(source, source_ref, platform=platform, all_platforms=all_platforms)
        _check_destination_digest(destination_ref, top.digest)
        copier.copy_manifest(top)
        copier.put_manifest(top, tag=_tag_of(destination_ref))
        copier.result.manifest_digest = top.digest
        copier.result.media_type = top.media_type
        return copier.result
    finally:
        if owned:
            resolver.close()


def _fetch_top(source: ImageStore, reference: str, *, platform: str | None, all_platforms: bool) -> RawManifest:
    """Fetch the manifest to copy: the index itself with `all_platforms`, else the platform's manifest."""
    identifier = _identifier_of(reference)
    raw = source.fetch_manifest(identifier)
    if all_platforms or not mediatypes.is_index(raw.media_type):
        return raw

    def fetch(requested: str) -> RawManifest:
        return raw if requested == identifier else source.fetch_manifest(requested)

    resolved = resolve_manifest(reference, identifier, fetch, source.read_blob, platform)
    return RawManifest(resolved.manifest, resolved.media_type, resolved.manifest_digest)


class _Copier:
    def __init__(self, source: ImageStore, destination: ImageStore, result: CopyResult) -> None:
        self.source = source
        self.destination = destination
        self.result = result
        self._done: set[str] = set()
        # Within one registry a blob can be mounted from the source repository
        # instead of being downloaded and uploaded again.
        self._mount_from: str | None = None
        if (isinstance(source, RegistryImageSource) and isinstance(destination, RegistryImageSource)
                and source.client.registry == destination.client.registry):
            self._mount_from = source.repository

    def copy_manifest(self, raw: RawManifest) -> None:
        """Copy everything `raw` references (not `raw` itself), children first."""
        where = self.result.source
        if mediatypes.is_index(raw.media_type):
            index = parse_index(raw.data, reference=where, digest=raw.digest)
            for child in index["manifests"]:
                child_raw = self.source.fetch_manifest(child["digest"])
                if not mediatypes.is_manifest(child_raw.media_type) and not mediatypes.is_index(child_raw.media_type):
                    raise ManifestNotFound(
                        reference=f"{self.result.source}@{child['digest']}", operation="copying index",
                        detail=f"unsupported manifest media type {child_raw.media_type!r}",
                    )
                self.copy_manifest(child_raw)
                self.put_manifest(child_raw, tag=None)
                platform = child.get("platform") or {}
                if platform:
                    self.result.platforms.append(_platform_text(platform))
            return
        if not mediatypes.is_manifest(raw.media_type):
            raise ManifestNotFound(reference=self.result.source, operation="copying image",
                                   detail=f"unsupported manifest media type {raw.media_type!r}")
        document = parse_manifest(raw.data, reference=where, digest=raw.digest)
        descriptors = [document["config"], *(document.get("layers") or [])]
        for descriptor in descriptors:
            self.copy_blob(descriptor["digest"], int(descriptor["size"]))

    def copy_blob(self, digest: str, size: int) -> None:
        if digest in self._done:
            return
        self._done.add(digest)
        if self.destination.has_blob(digest):
            self.result.blobs_skipped += 1
            logger.debug("blob %s already at %s", digest, self.result.destination)
            return
        self._write_blob(digest, size)
        self.result.blobs_copied += 1
        self.result.bytes_copied += size

    def _write_blob(self, digest: str, size: int) -> None:
        def opener() -> Any:
            return self.source.open_blob(digest, size=size)

        if isinstance(self.destination, LayoutImageSource):
            with opener() as stream:
                _, written_size = self.destination.store.write_blob(stream, digest)
            if written_size != size:
                raise OCIError(
                    f"size mismatch for blob {digest} from {self.result.source}: "
                    f"the descriptor states {size} bytes, the blob has {written_size}",
                    hint="The source image is malformed; rebuild or re-push it.",
                )
            return
        outcome = self.destination.client.upload_blob(
            self.destination.repository, opener, digest, size, mount_from=self._mount_from,
        )
        logger.debug("blob %s: %s", digest, outcome)

    def put_manifest(self, raw: RawManifest, *, tag: str | None) -> None:
        """Store a manifest or index in the destination, by digest or under `tag`."""
        if isinstance(self.destination, LayoutImageSource):
            self.destination.store.put_manifest(raw.data, raw.media_type, tag=tag)
        else:
            client = self.destination.client
            reference = Reference(client.registry, self.destination.repository, tag, None if tag else raw.digest)
            client.put_manifest(reference, raw.data, raw.media_type)
        self.result.manifests += 1


def _identifier_of(reference: str) -> str:
    parsed = parse_reference(reference)
    return parsed.identifier


def _tag_of(reference: str) -> str | None:
    parsed = parse_reference(reference)
    return parsed.tag if parsed.digest is None else None


def _check_destination_digest(reference: str, digest: str) -> None:
    parsed = parse_reference(reference)
    if parsed.digest is not None and parsed.digest != digest:
        kind = "layout reference" if isinstance(parsed, LayoutReference) else "reference"
        raise OCIError(
            f"destination {kind} {reference} names digest {parsed.digest}, but the copied manifest is {digest}",
            hint="Give the destination a tag, or the digest of the manifest being copied.",
        )


def _platform_text(platform: dict[str, str]) -> str:
    text = f"{platform.get('os', '?')}/{platform.get('architecture', '?')}"
    return text + (f"/{platform['variant']}" if platform.get("variant") else "")

