"""Moving layers between stores and root filesystems, each step timed as a span.

`download` copies a compressed blob into the work directory, or hard-links it
from a local store (span `download`, bytes = blob size, requests counted by the
registry client); `unpack` extracts a
local blob onto a root with the safe extraction of `cachelab.oci.extract` (span
`unpack`, bytes = file content written).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from cachelab.build.cached_layer import CorruptCachedLayer
from cachelab.build.stage_image import ImageLayer
from cachelab.events.spans import SpanClock
from cachelab.oci.errors import DigestMismatch
from cachelab.oci.transfer import TransferStats

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20


@dataclasses.dataclass
class LayerMover:
    """Downloads and unpacks layers of one build, recording spans on `clock`."""

    clock: SpanClock
    blob_dir: Path
    stats: TransferStats | None = None

    def download(self, layer: ImageLayer) -> ImageLayer:
        """Return `layer` with a local blob file, downloading it unless it has one."""
        if layer.path is not None and os.path.exists(layer.path):
            return layer
        target = self.blob_dir / layer.digest.replace(":", "-")
        before = self.stats.total_requests if self.stats is not None else 0
        with self.clock.span("download") as span, _cache_hit_blob(layer):
            local = local_blob(layer, target)
            span.add_bytes(layer.size)
            span.attributes["digest"] = layer.digest
            span.attributes["origin"] = layer.origin
            if self.stats is not None:
                span.add_requests(self.stats.total_requests - before)
        logger.debug("downloaded %s layer %s (%d bytes)", layer.origin, layer.digest, layer.size)
        return local

    def unpack(self, layer: ImageLayer, root: Path) -> ImageLayer:
        """Extract `layer` onto `root`, downloading it first if needed, and return it with its local file."""
        from cachelab.oci.extract import extract_layer

        local = self.download(layer)
        assert local.path is not None
        with self.clock.span("unpack") as span, _cache_hit_blob(layer), local.open() as blob:
            stats = extract_layer(blob, root, layer_digest=layer.digest, image=layer.image)
            span.add_bytes(stats.file_bytes)
            span.attributes["digest"] = layer.digest
            span.attributes["origin"] = layer.origin
        return local


@contextlib.contextmanager
def _cache_hit_blob(layer: ImageLayer) -> Iterator[None]:
    """Raise CorruptCachedLayer for a digest mismatch of a cache hit's layer read inside."""
    try:
        yield
    except DigestMismatch as error:
        if layer.hit is None or error.expected != layer.digest:
            raise
        raise CorruptCachedLayer(layer.hit, error, blob_file=layer.store_file) from error


def store_file(source: object, digest: str) -> str | None:
    """Return the local file of blob `digest` when `source` is a layout store that has it, else None."""
    from cachelab.oci.image import LayoutImageSource

    if isinstance(source, LayoutImageSource):
        path = source.blob_file(digest)
        return str(path) if path is not None else None
    return None


def local_blob(layer: ImageLayer, target: Path) -> ImageLayer:
    """Put `layer`'s blob at `target` and return the layer with that local file.

    A blob in a local store is hard-linked and verified against its digest by
    whoever reads it through the returned layer's `open`. Any other blob is
    copied from `layer.open()`, which verifies it on the way.
    """
    if layer.store_file is not None and _link(layer.store_file, target):
        path = str(target)
        # The error of a mismatch names the store's file: the link is in the build's scratch directory.
        return dataclasses.replace(layer, path=path, open=_verifying_opener(path, layer.digest, layer.store_file))
    # A fresh name, created exclusively: `target` or a leftover may be a hard
    # link to a store's blob, which opening it for writing would truncate.
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
    try:
        with layer.open() as source, open(partial, "xb") as out:
            shutil.copyfileobj(source, out, CHUNK_SIZE)
        os.replace(partial, target)
    finally:
        if os.path.lexists(partial):
            os.unlink(partial)
    return dataclasses.replace(layer, path=str(target), open=_file_opener(str(target)))


def _link(source: str, target: Path) -> bool:
    """Make `target` a hard link to `source`; returns False when linking is impossible."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.samefile(source, target):
            return True
    temporary = target.with_name(f"{target.name}.{uuid.uuid4().hex}.link")
    try:
        os.link(source, temporary)
    except OSError as error:
        logger.debug("cannot link %s (%s); copying it", source, error)
        return False
    try:
        os.replace(temporary, target)
    finally:
        # rename(2) leaves both names when they already are one inode.
        if os.path.lexists(temporary):
            os.unlink(temporary)
    return True


def _file_opener(path: str):  # type: ignore[no-untyped-def]
    return lambda: open(path, "rb")


def _verifying_opener(path: str, digest: str, store_path: str):  # type: ignore[no-untyped-def]
    from cachelab.oci._files import VerifyingReader

    return lambda: VerifyingReader(open(path, "rb"), digest, where=f"layer blob {store_path}")
