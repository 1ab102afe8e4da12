"""The final stage's image: manifest and config, written to the destination or only digested.

Writing copies each layer blob from wherever it lives (a built file, the cache
store, the base image's source) unless the destination already has it. On a
registry, a layer that came from another repository of the same registry (the
base image's or the cache's) is mounted from there instead of uploaded. Without a destination no blob is read:
the manifest is built from the layer descriptors and its digest computed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime

from cachelab.build.errors import BuildError
from cachelab.build.request import LayerDescriptor, OutputImage
from cachelab.build.stage_image import DISCARDED, StageImage
from cachelab.events.spans import SpanClock
from cachelab.oci import mediatypes
from cachelab.oci.image import Blob, ImageResolver, LayoutImageSource, RegistryImageSource
from cachelab.oci.manifest import Descriptor, build_manifest
from cachelab.oci.reference import LayoutReference, parse_reference
from cachelab.oci.transfer import TransferStats

logger = logging.getLogger(__name__)


def assemble(image: StageImage, *, created: datetime | None = None) -> tuple[bytes, str, bytes]:
    """Return the manifest, its media type and the config of a stage image."""
    if any(layer.origin == DISCARDED for layer in image.layers):
        raise BuildError(
            "the image to write contains a layer that was counted but not kept",
            hint="This is a builder bug; report the Dockerfile.",
        )
    config = image.config.copy()
    config.created = (created or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    config_bytes = config.to_json()
    descriptors = [Descriptor(layer.media_type, layer.digest, layer.size) for layer in image.layers]
    manifest, media_type = build_manifest(config_bytes, descriptors, docker=image.docker_media_types)
    return manifest, media_type, config_bytes


def write_output(
    image: StageImage,
    destination: str | None,
    *,
    clock: SpanClock,
    resolver: ImageResolver,
    stats: TransferStats | None,
) -> OutputImage:
    """Write the image to `destination` (`oci:DIR:TAG` or a registry reference), or only digest it."""
    manifest, media_type, config = assemble(image)
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    layers = tuple(LayerDescriptor(layer.digest, layer.diff_id, layer.size, layer.media_type) for layer in image.layers)
    if destination is None:
        return OutputImage(manifest, media_type, config, digest, layers)

    config_blob = Blob.from_bytes(config, mediatypes.config_media_type_for(media_type))
    # Only the builder's own layer files are hard-linked into a layout: their
    # digests were computed while they were written. Downloads are copied and verified.
    blobs = [
        Blob(layer.digest, layer.size, layer.media_type, layer.open, layer.path if layer.origin == "built" else None)
        for layer in image.layers
    ]
    parsed = parse_reference(destination)
    before = stats.snapshot() if stats is not None else {}
    with clock.span("push-image") as span:
        span.attributes["destination"] = destination
        if isinstance(parsed, LayoutReference):
            source = LayoutImageSource(resolver.source_for(destination).store)  # type: ignore[union-attr]
            missing = [blob for blob in blobs if not source.has_blob(blob.digest)]
            span.add_bytes(sum(blob.size for blob in missing) + config_blob.size + len(manifest))
            written = source.write_image(manifest, media_type, [*blobs, config_blob], tag=parsed.tag)
        else:
            target = resolver.source_for(destination)
            assert isinstance(target, RegistryImageSource)
            outcomes: dict[str, int] = {}
            for layer, blob in zip(image.layers, blobs, strict=True):
                outcome = target.client.upload_blob(
                    target.repository, blob.open, blob.digest, blob.size,
                    mount_from=_mount_source(layer.repository, target),
                )
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
            span.attributes.update({f"layers_{name}": str(count) for name, count in outcomes.items()})
            # Every layer is there now, so this pushes only the config and the manifest.
            written = target.write_image(manifest, media_type, [config_blob], tag=parsed.tag)
            if stats is not None:
                after = stats.snapshot()
                span.add_bytes(sum(c.bytes_sent for c in after.values()) - sum(c.bytes_sent for c in before.values()))
                span.add_requests(sum(c.requests for c in after.values()) - sum(c.requests for c in before.values()))
    logger.info("wrote image %s to %s", written, destination)
    return OutputImage(manifest, media_type, config, digest, layers, reference=destination)


def content_digest(image: OutputImage) -> str:
    """Return the sha256 of the image's layer diff IDs and its config without `created` times.

    Two builds that produced the same files and settings have the same content
    digest even when they ran at different times, which the manifest digest
    does not allow because the config records when each layer was created.
    """
    config = json.loads(image.config)
    config.pop("created", None)
    for entry in config.get("history") or []:
        entry.pop("created", None)
    document = {"config": config, "diff_ids": [layer.diff_id for layer in image.layers]}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _mount_source(repository: str | None, target: RegistryImageSource) -> str | None:
    """Return the repository to mount a layer from: its own, when on the destination's registry."""
    if repository is None:
        return None
    registry, _, name = repository.partition("/")
    if registry != target.client.registry or name == target.repository:
        return None
    return name
