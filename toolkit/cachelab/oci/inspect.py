"""A report of what an image contains: manifest, config, history and each layer.

`inspect_image` reads the manifest and config, matches the history to the
layers, and (unless `read_layers` is off) streams every layer blob once to
count its entries, measure its uncompressed size, sniff its compression and
check its diff_id against the config.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from cachelab.oci import mediatypes
from cachelab.oci.errors import DigestMismatch
from cachelab.oci.image import Image, ImageResolver
from cachelab.oci.manifest import platforms_of
from cachelab.oci.reference import parse_reference
from cachelab.oci.tarindex import scan_layer

logger = logging.getLogger(__name__)


@dataclass
class LayerReport:
    """One layer: descriptor facts, the instruction that made it and, when read, its tar totals."""

    index: int
    digest: str
    diff_id: str
    size: int  # compressed bytes, as the manifest states
    media_type: str
    created_by: str | None = None
    compression: str | None = None
    uncompressed_size: int | None = None
    entries: int | None = None


@dataclass
class ImageReport:
    """Everything `cachelab image inspect` prints about one image."""

    reference: str
    manifest_digest: str
    media_type: str
    config_digest: str
    config_media_type: str
    platform: str
    created: str | None
    env: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    workdir: str | None = None
    user: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    layers: list[LayerReport] = field(default_factory=list)
    # Set when the reference names an index: its digest and every platform it lists.
    index_digest: str | None = None
    index_platforms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def layer_history(history: list[dict[str, Any]], layer_count: int) -> list[str | None]:
    """Return the `created_by` of each layer, matching history entries to layers in order.

    History entries with `empty_layer: true` (ENV, LABEL and other metadata
    instructions) made no layer and are skipped. When the remaining entries do
    not number exactly one per layer the match is ambiguous, so every layer gets
    None.
    """
    layer_entries = [entry for entry in history if not entry.get("empty_layer")]
    if len(layer_entries) != layer_count:
        logger.debug("history has %d layer entries for %d layers; not matching them",
                     len(layer_entries), layer_count)
        return [None] * layer_count
    return [entry.get("created_by") for entry in layer_entries]


def platform_of(config: dict[str, Any]) -> str:
    """Return the config's os/architecture[/variant]."""
    text = f"{config.get('os', '?')}/{config.get('architecture', '?')}"
    return text + (f"/{config['variant']}" if config.get("variant") else "")


def inspect_image(image: Image, *, read_layers: bool = True) -> ImageReport:
    """Describe `image`; with `read_layers` each layer blob is read once and its diff_id checked.

    Raises DigestMismatch when a layer's blob or its uncompressed tar does not
    hash to the digest or diff_id that names it.
    """
    manifest = image.manifest_json
    config = image.config_json
    container = config.get("config") or {}
    history = list(config.get("history") or [])
    layers = image.layers()
    created_by = layer_history(history, len(layers))

    report = ImageReport(
        reference=image.reference,
        manifest_digest=image.manifest_digest,
        media_type=image.media_type,
        config_digest=manifest["config"]["digest"],
        config_media_type=manifest["config"].get("mediaType", ""),
        platform=platform_of(config),
        created=config.get("created"),
        env=list(container.get("Env") or []),
        entrypoint=container.get("Entrypoint"),
        cmd=container.get("Cmd"),
        workdir=container.get("WorkingDir") or None,
        user=container.get("User") or None,
        labels=dict(container.get("Labels") or {}),
        history=history,
    )
    for index, (layer, made_by) in enumerate(zip(layers, created_by, strict=True)):
        entry = LayerReport(index, layer.digest, layer.diff_id, layer.size, layer.media_type, made_by)
        if read_layers:
            with layer.open() as blob:
                scan = scan_layer(blob, layer_digest=layer.digest)
            if scan.diff_id != layer.diff_id:
                raise DigestMismatch(layer.diff_id, scan.diff_id,
                                     where=f"uncompressed layer {index} ({layer.digest}) of {image.reference}")
            entry.compression = scan.compression
            entry.uncompressed_size = scan.uncompressed_size
            entry.entries = scan.entries
        report.layers.append(entry)
    return report


def inspect_reference(
    resolver: ImageResolver, reference: str, *, platform: str | None = None, read_layers: bool = True,
) -> ImageReport:
    """Describe the image `reference` names; for an index, also record its digest and platforms.

    The platform's image is chosen from an index as `ImageResolver.image` chooses it.
    """
    source = resolver.source_for(reference)
    top = source.fetch_manifest(parse_reference(reference).identifier)
    report = inspect_image(resolver.image(reference, platform=platform), read_layers=read_layers)
    if mediatypes.is_index(top.media_type):
        report.index_digest = top.digest
        report.index_platforms = platforms_of(json.loads(top.data))
    return report
