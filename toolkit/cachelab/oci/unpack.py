"""Unpacking an image's layers, in order, into an empty root directory.

Each layer goes through the builder's safe extraction (`extract_layer`):
whiteouts are applied, and an entry that would land outside the root raises
`UnsafeLayerError` naming the layer and the entry. Reading each blob to its end
verifies its digest. The root must be empty or absent, so that what ends up
there is exactly the image's filesystem.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cachelab.oci.errors import OCIError
from cachelab.oci.extract import ExtractStats, extract_layer
from cachelab.oci.image import Image

logger = logging.getLogger(__name__)


class UnpackTargetError(OCIError):
    """The unpack root exists and is not an empty directory."""

    default_hint = "Pass a new directory, or empty this one first."


@dataclass
class UnpackResult:
    """Outcome of an unpack: the root and each layer's extraction counters, in order."""

    root: Path
    layers: list[tuple[str, ExtractStats]] = field(default_factory=list)

    @property
    def entries(self) -> int:
        return sum(stats.entries for _, stats in self.layers)


def check_empty_root(root: Path) -> None:
    """Raise UnpackTargetError unless `root` is absent or an empty directory."""
    if not root.exists() and not root.is_symlink():
        return
    if root.is_symlink() or not root.is_dir():
        raise UnpackTargetError(f"unpack root {root} exists and is not a directory")
    if any(root.iterdir()):
        raise UnpackTargetError(f"unpack root {root} is not empty")


def unpack_image(image: Image, root: str | os.PathLike[str], *, keep_partial: bool = False) -> UnpackResult:
    """Extract every layer of `image` into `root`, bottom layer first.

    When a layer fails (a hostile entry, a digest mismatch, a broken stream),
    the error propagates and everything written under `root` is removed unless
    `keep_partial` is set. Extraction writes nothing outside `root`.
    """
    target = Path(root)
    check_empty_root(target)
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    result = UnpackResult(target)
    try:
        for layer in image.layers():
            with layer.open() as blob:
                stats = extract_layer(blob, target, layer_digest=layer.digest, image=image.reference)
            result.layers.append((layer.digest, stats))
            logger.info("unpacked layer %s (%d entries) into %s", layer.digest, stats.entries, target)
    except BaseException:
        if not keep_partial:
            _clear(target, remove_root=created)
        raise
    return result


def _clear(root: Path, *, remove_root: bool) -> None:
    # The root was empty before unpacking, so everything in it came from the image.
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, onerror=_retry_writable)
        else:
            child.unlink()
    if remove_root:
        root.rmdir()


def _retry_writable(function: Callable[[str], object], path: str, _error: object) -> None:
    # A layer may create read-only directories, whose entries an unprivileged
    # process cannot delete until the directory is writable again.
    os.chmod(os.path.dirname(path), 0o700)
    function(path)
