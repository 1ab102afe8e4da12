"""A stage's image while it is built: config, layers, and the root filesystem that contains them.

The root of a stage may lag behind its layer list: cached layers are extracted
only when a later step needs the files, so `extracted` counts the leading layers
the root directory holds. A stage built on this one extracts the rest before it
runs anything (see `StageImage.materialize` callers in `stage_runner`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cachelab.build.cached_layer import CacheHit
from cachelab.build.config import ImageConfig

logger = logging.getLogger(__name__)

# The origin of a layer that was counted but not compressed or stored: it has no
# digest, diff_id or blob, and writing an image that contains it is a bug.
DISCARDED = "discarded"


@dataclass(frozen=True)
class ImageLayer:
    """One layer of a stage image and how to open its compressed blob.

    `path` is a local file holding the blob when the builder wrote or downloaded
    it; `open` opens the blob wherever it lives (a local file, the cache store or
    the base image's source).
    """

    digest: str
    diff_id: str
    size: int
    media_type: str
    open: Callable[[], BinaryIO]
    path: str | None = None
    origin: str = ""  # "base", "cache", "built", "discarded" or "copy-from-image", for spans and logs
    repository: str | None = None  # "registry/repository" holding the blob, for cross-repository mounts
    # The blob's file in a local store (image store or layout cache), unverified.
    # A download hard-links it instead of copying, and the unpack verifies it.
    store_file: str | None = None
    # The reference of the image the layer belongs to (a base or COPY --from image),
    # which extraction errors name. None for cached and built layers.
    image: str | None = None
    # The cache hit that brought a layer of origin "cache", which a corrupted blob's error names.
    hit: CacheHit | None = None


@dataclass
class StageImage:
    """The image of one stage: config, layers in order, and its root directory if any."""

    config: ImageConfig
    layers: list[ImageLayer] = field(default_factory=list)
    root: Path | None = None
    extracted: int = 0  # leading layers the root contains
    docker_media_types: bool = False

    @property
    def root_complete(self) -> bool:
        return self.root is not None and self.extracted == len(self.layers)

    def derive(self) -> StageImage:
        """Return a copy for a child stage, without the root directory (`take_root` hands it over)."""
        return StageImage(
            config=self.config.copy(),
            layers=list(self.layers),
            docker_media_types=self.docker_media_types,
        )


def take_root(parent: StageImage, dest: Path, *, move: bool) -> int:
    """Give `dest` the parent's root (renamed when `move`, else copied) and return the layers it contains."""
    if parent.root is None or not parent.root.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        return 0
    if move:
        parent.root.rename(dest)
        logger.debug("moved stage root %s to %s", parent.root, dest)
        parent.root = None
        held = parent.extracted
        parent.extracted = 0
        return held
    import subprocess  # imported here because copying a root is rare

    # `cp -a` keeps owners, modes, times, links and special files, which
    # shutil.copytree does not all keep.
    subprocess.run(["cp", "-a", "--", str(parent.root), str(dest)], check=True)
    logger.debug("copied stage root %s to %s", parent.root, dest)
    return parent.extracted
