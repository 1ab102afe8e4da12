"""Moving layers between stores and root filesystems, each step timed as a span.

`download` copies a compressed blob into the work directory (span `download`,
bytes = blob size, requests counted by the registry client); `unpack` extracts a
local blob onto a root with the safe extraction of `cachelab.oci.extract` (span
`unpack`, bytes = file content written).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from pathlib import Path

from cachelab.build.stage_image import ImageLayer
from cachelab.events.spans import SpanClock
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
        with self.clock.span("download") as span:
            partial = target.with_suffix(".partial")
            with layer.open() as source, open(partial, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK_SIZE)
            os.replace(partial, target)
            span.add_bytes(layer.size)
            span.attributes["digest"] = layer.digest
            span.attributes["origin"] = layer.origin
            if self.stats is not None:
                span.add_requests(self.stats.total_requests - before)
        logger.debug("downloaded %s layer %s (%d bytes)", layer.origin, layer.digest, layer.size)
        return dataclasses.replace(layer, path=str(target), open=_file_opener(str(target)))

    def unpack(self, layer: ImageLayer, root: Path) -> ImageLayer:
        """Extract `layer` onto `root`, downloading it first if needed, and return it with its local file."""
        from cachelab.oci.extract import extract_layer

        local = self.download(layer)
        assert local.path is not None
        with self.clock.span("unpack") as span, open(local.path, "rb") as blob:
            stats = extract_layer(blob, root, layer_digest=layer.digest)
            span.add_bytes(stats.file_bytes)
            span.attributes["digest"] = layer.digest
            span.attributes["origin"] = layer.origin
        return local


def _file_opener(path: str):  # type: ignore[no-untyped-def]
    return lambda: open(path, "rb")
