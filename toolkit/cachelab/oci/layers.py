"""Writing layer blobs: a tar stream compressed once, digest and diff_id in one pass.

A layer's *diff_id* is the sha256 of the uncompressed tar; its *digest* is the
sha256 of the compressed blob as stored. Both are computed while the bytes stream
through, so a layer is read exactly once and never held in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cachelab.oci.compression import Compressor
from cachelab.oci.mediatypes import layer_media_type

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"


@dataclass(frozen=True, slots=True)
class LayerFile:
    """A compressed layer blob in a local file, with the facts needed to store it."""

    path: str
    digest: str  # "sha256:<hex>" of the compressed bytes
    size: int  # bytes of the compressed blob
    diff_id: str  # "sha256:<hex>" of the uncompressed tar
    media_type: str


class _LayerSink:
    """A writable stream that hashes the tar, compresses it, and hashes and stores the result."""

    def __init__(self, out: BinaryIO, compression: str, level: int | None) -> None:
        self._out = out
        self._compressor = Compressor(compression, level=level)
        self._diff_hash = hashlib.sha256()
        self._blob_hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._diff_hash.update(data)
        self._emit(self._compressor.compress(data))
        return len(data)

    def _emit(self, data: bytes) -> None:
        if data:
            self._blob_hash.update(data)
            self._out.write(data)
            self.size += len(data)

    def finish(self) -> tuple[str, str]:
        """Flush the compressor and return (digest, diff_id)."""
        self._emit(self._compressor.flush())
        return "sha256:" + self._blob_hash.hexdigest(), "sha256:" + self._diff_hash.hexdigest()


def write_layer(
    source: str | os.PathLike[str] | BinaryIO,
    compression: str = "gzip",
    *,
    directory: str | os.PathLike[str] | None = None,
    level: int | None = None,
    docker: bool = False,
) -> LayerFile:
    """Compress an uncompressed tar (a path or a stream) into a new blob file.

    The blob is written to a temporary file in `directory` (the system default when
    None); the caller owns it. `docker` selects Docker schema 2 media types.
    """
    def fill(sink: _LayerSink) -> None:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as stream:
                shutil.copyfileobj(stream, sink, CHUNK_SIZE)  # type: ignore[misc]
        else:
            shutil.copyfileobj(source, sink, CHUNK_SIZE)  # type: ignore[misc]

    return _write_blob(fill, compression, directory=directory, level=level, docker=docker)


def write_directory_layer(
    root: str | os.PathLike[str],
    compression: str = "gzip",
    *,
    directory: str | os.PathLike[str] | None = None,
    level: int | None = None,
    docker: bool = False,
    owner_root: bool = True,
) -> LayerFile:
    """Tar the tree under `root` (paths relative to it) and compress it into a blob file.

    Entries are sorted so the same tree gives the same diff_id. With `owner_root`
    every entry is owned by 0:0, as in a base image built without privileges.
    """
    def fill(sink: _LayerSink) -> None:
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
            add_tree(archive, Path(root), owner_root=owner_root)

    return _write_blob(fill, compression, directory=directory, level=level, docker=docker)


def _write_blob(
    fill: Callable[[_LayerSink], None],
    compression: str,
    *,
    directory: str | os.PathLike[str] | None,
    level: int | None,
    docker: bool,
) -> LayerFile:
    media_type = layer_media_type(compression, docker=docker)
    handle, path = tempfile.mkstemp(prefix="layer-", suffix=".blob", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            sink = _LayerSink(out, compression, level)
            fill(sink)
            digest, diff_id = sink.finish()
    except BaseException:
        os.unlink(path)
        raise
    logger.debug("wrote layer %s (%d bytes, diff_id %s)", digest, sink.size, diff_id)
    return LayerFile(path, digest, sink.size, diff_id, media_type)


def add_tree(archive: tarfile.TarFile, root: Path, *, owner_root: bool = True) -> None:
    """Add every entry under `root` to `archive` in sorted order, root itself excluded."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        names = sorted(dirnames + filenames)
        for name in names:
            full = Path(dirpath, name)
            arcname = full.relative_to(root).as_posix()
            info = archive.gettarinfo(str(full), arcname)
            if owner_root:
                info.uid = info.gid = 0
                info.uname = info.gname = ""
            _add_xattrs(info, full)
            if info.isreg():
                with open(full, "rb") as content:
                    archive.addfile(info, content)
            else:
                archive.addfile(info)
        # os.walk lists symlinks to directories among dirnames but does not descend.


def _add_xattrs(info: tarfile.TarInfo, path: Path) -> None:
    # PAX records named SCHILY.xattr.<name> carry extended attributes, as GNU tar
    # and the OCI layer spec use them.
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return
    headers = dict(info.pax_headers)
    for name in names:
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        headers[f"SCHILY.xattr.{name}"] = value.decode("utf-8", "surrogateescape")
    info.pax_headers = headers


def is_whiteout(name: str) -> bool:
    return os.path.basename(name).startswith(WHITEOUT_PREFIX)


def whiteout_target(name: str) -> str | None:
    """Return the path a `.wh.<name>` entry deletes, or None for the opaque marker."""
    base = os.path.basename(name)
    if base == OPAQUE_WHITEOUT:
        return None
    return os.path.join(os.path.dirname(name), base[len(WHITEOUT_PREFIX):])


def is_device(mode: int) -> bool:
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
