"""Twin base images in a local image store: busybox plus a filler file of a given size."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from cachelab.oci.busybox import busybox_rootfs
from cachelab.oci.importer import import_rootfs
from cachelab.oci.layout import LayoutStore
from cachelab.replay.twin import TwinBase, deterministic_bytes

logger = logging.getLogger(__name__)


class TwinBaseStore:
    """Creates twin base images in the layout store at `path`, each once."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.store = LayoutStore(self.path)
        self._busybox: Path | None = None
        self._scratch = tempfile.TemporaryDirectory(prefix="cachelab-twin-bases-")

    def close(self) -> None:
        self._scratch.cleanup()

    def ensure(self, base: TwinBase) -> None:
        """Import `base` unless the store already has an image tagged with its reference."""
        if self.store.exists() and self.store.find(base.reference) is not None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        rootfs = Path(self._scratch.name) / "rootfs"
        if rootfs.exists():
            shutil.rmtree(rootfs)
        shutil.copytree(self._busybox_rootfs(), rootfs, symlinks=True)
        (rootfs / "twin-base").mkdir()
        (rootfs / "twin-base" / "marker").write_text(f"{base.original}\n", encoding="utf-8")
        (rootfs / "twin-base" / "filler").write_bytes(deterministic_bytes(base.filler_bytes, base.original))

        # A layout tag cannot hold the `:` of a registry reference, so the import
        # writes a temporary tag that is renamed afterwards.
        temporary = f"twin-import-{os.getpid()}"
        import_rootfs(rootfs, f"oci:{self.path}:{temporary}")
        descriptor = self.store.find(temporary)
        if descriptor is None:
            raise FileNotFoundError(f"import into {self.path} left no image tagged {temporary!r}")
        self.store.tag(base.reference, descriptor)
        self.store.untag(temporary)
        logger.info("created twin base %s for %s (%d filler bytes)", base.reference, base.original, base.filler_bytes)

    def _busybox_rootfs(self) -> Path:
        if self._busybox is None:
            self._busybox = busybox_rootfs(Path(self._scratch.name) / "busybox")
        return self._busybox
