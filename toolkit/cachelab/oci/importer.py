"""Importing a root filesystem (a directory or a tarball) as a single-layer image."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cachelab.oci import mediatypes
from cachelab.oci.busybox import DEFAULT_CMD, DEFAULT_PATH
from cachelab.oci.compression import open_decompressed
from cachelab.oci.entry_check import check_layer_entries
from cachelab.oci.image import Blob, ImageResolver
from cachelab.oci.layers import LayerFile, write_directory_layer, write_layer
from cachelab.oci.manifest import Platform, build_config, build_manifest, rfc3339
from cachelab.oci.reference import parse_reference

logger = logging.getLogger(__name__)

# The config `created` of imported images, fixed so that an import is reproducible.
IMPORT_CREATED = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The result of an import: the reference, manifest digest and the layer."""

    reference: str
    manifest_digest: str
    layer: LayerFile


def import_rootfs(
    source: str | os.PathLike[str],
    reference: str,
    *,
    compression: str = "gzip",
    env: Sequence[str] = (DEFAULT_PATH,),
    cmd: Sequence[str] = tuple(DEFAULT_CMD),
    docker: bool = False,
    platform: Platform | None = None,
    created: datetime = IMPORT_CREATED,
    resolver: ImageResolver | None = None,
) -> ImportResult:
    """Store a directory or an (optionally compressed) tarball as a one-layer image at `reference`.

    `reference` is `oci:DIR:TAG` or a registry reference. The layer blob is staged
    in a temporary file and removed afterwards. A layer with an entry that
    extraction rejects raises UnsafeLayerError, and nothing is written.
    """
    path = Path(source)
    if path.is_dir():
        layer = write_directory_layer(path, compression, docker=docker)
    elif path.is_file():
        with open(path, "rb") as raw, open_decompressed(raw) as tar_stream:
            layer = write_layer(tar_stream, compression, docker=docker)
    else:
        raise FileNotFoundError(f"rootfs {path} is neither a directory nor a file")

    try:
        # The layer is checked as every consumer extracts it, so an import of a
        # tarball with entries such as `../x` fails here instead of writing an
        # image that no build can use.
        with open(layer.path, "rb") as blob:
            check_layer_entries(blob, layer=f"{layer.digest} (from {path})", image=reference)
        history = [{"created": rfc3339(created), "created_by": f"cachelab image import {path.name}"}]
        config = build_config(diff_ids=[layer.diff_id], created=created, history=history,
                              env=list(env), cmd=list(cmd), target=platform)
        layer_blob = Blob.from_layer_file(layer)
        manifest, media_type = build_manifest(config, [layer_blob.descriptor()], docker=docker)
        config_blob = Blob.from_bytes(config, mediatypes.config_media_type_for(media_type))

        owned = resolver is None
        resolver = resolver or ImageResolver()
        try:
            target = resolver.source_for(reference)
            digest = target.write_image(manifest, media_type, [layer_blob, config_blob], tag=_tag_of(reference))
        finally:
            if owned:
                resolver.close()
    finally:
        os.unlink(layer.path)
    logger.info("imported %s as %s (%s)", path, reference, digest)
    return ImportResult(reference, digest, layer)


def _tag_of(reference: str) -> str | None:
    parsed = parse_reference(reference)
    return parsed.tag if parsed.digest is None else None
