"""Writing layer blobs: a tar stream compressed once, digest and diff_id in one pass.

A layer's *diff_id* is the sha256 of the uncompressed tar; its *digest* is the
sha256 of the compressed blob as stored. Both are computed while the bytes stream
through, so a layer is read exactly once and never held in memory, and a tar
written straight into a `LayerWriter` never touches the disk uncompressed.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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


class LayerWriter:
    """A writable stream for an uncompressed layer tar that compresses and hashes it on the fly.

    The diff_id hash runs on one background thread, and the digest hash and the
    blob file writes on another, while the calling thread compresses: hashlib
    and file writes release the GIL, so a large layer uses two cores. Small
    writes are gathered into chunks of at least `CHUNK_SIZE` bytes first.
    `finish()` returns the `LayerFile`; leaving a `with` block without it, or
    `abort()`, removes the partial blob.
    """

    def __init__(
        self,
        compression: str = "gzip",
        *,
        directory: str | os.PathLike[str] | None = None,
        level: int | None = None,
        docker: bool = False,
    ) -> None:
        self.media_type = layer_media_type(compression, docker=docker)
        self._compressor = Compressor(compression, level=level)
        self._diff_hash = hashlib.sha256()
        self._blob_hash = hashlib.sha256()
        handle, self.path = tempfile.mkstemp(prefix="layer-", suffix=".blob", dir=directory)
        self._out = os.fdopen(handle, "wb", buffering=0)
        self._pending = bytearray()
        self._diff_worker: _OrderedWorker | None = None
        self._blob_worker: _OrderedWorker | None = None
        self.size = 0  # compressed bytes written
        self.tar_size = 0  # uncompressed bytes received
        self._done = False

    def __enter__(self) -> LayerWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._done:
            self.abort()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        count = len(data)
        self.tar_size += count
        if count >= CHUNK_SIZE and not self._pending:
            self._process(bytes(data))
            return count
        self._pending += data
        if len(self._pending) >= CHUNK_SIZE:
            self._flush_pending()
        return count

    def finish(self) -> LayerFile:
        """Flush the compressor, wait for both threads and return the blob's facts."""
        self._flush_pending()
        self._submit_blob(self._compressor.flush())
        try:
            for worker in (self._diff_worker, self._blob_worker):
                if worker is not None:
                    worker.close()
        finally:
            self._out.close()
        self._done = True
        digest = "sha256:" + self._blob_hash.hexdigest()
        diff_id = "sha256:" + self._diff_hash.hexdigest()
        logger.debug("wrote layer %s (%d bytes, diff_id %s)", digest, self.size, diff_id)
        return LayerFile(self.path, digest, self.size, diff_id, self.media_type)

    def abort(self) -> None:
        """Stop both threads and remove the partial blob."""
        self._done = True
        try:
            for worker in (self._diff_worker, self._blob_worker):
                if worker is not None:
                    worker.cancel()
            self._out.close()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def _flush_pending(self) -> None:
        if self._pending:
            chunk = bytes(self._pending)
            self._pending.clear()
            self._process(chunk)

    def _process(self, chunk: bytes) -> None:
        # The threads start with the first full chunk, so a layer smaller than
        # CHUNK_SIZE is handled on the calling thread alone. Each worker runs its
        # calls in order, so the hashes see the bytes in stream order either way.
        if self._diff_worker is None and len(chunk) >= CHUNK_SIZE:
            self._diff_worker = _OrderedWorker("layer-diff-id")
            self._blob_worker = _OrderedWorker("layer-blob")
        if self._diff_worker is None:
            self._diff_hash.update(chunk)
        else:
            self._diff_worker.submit(self._diff_hash.update, chunk)
        self._submit_blob(self._compressor.compress(chunk))

    def _submit_blob(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if self._blob_worker is None:
            self._store(data)
        else:
            self._blob_worker.submit(self._store, data)

    def _store(self, data: bytes) -> None:
        self._blob_hash.update(data)
        view = memoryview(data)
        while view:
            written = self._out.write(view)
            view = view[written:]


class _OrderedWorker:
    """One background thread that runs submitted calls in order, at most `depth` queued.

    An exception in a call is raised from a later `submit` or from `close`.
    """

    def __init__(self, name: str, depth: int = 8) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._queued: collections.deque[Future[None]] = collections.deque()
        self._depth = depth

    def submit(self, function: Callable[[bytes], object], data: bytes) -> None:
        while len(self._queued) >= self._depth:
            self._queued.popleft().result()
        self._queued.append(self._executor.submit(function, data))

    def close(self) -> None:
        try:
            while self._queued:
                self._queued.popleft().result()
        finally:
            self._executor.shutdown(wait=True)

    def cancel(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._queued.clear()


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
    def fill(sink: LayerWriter) -> None:
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
    def fill(sink: LayerWriter) -> None:
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
            add_tree(archive, Path(root), owner_root=owner_root)

    return _write_blob(fill, compression, directory=directory, level=level, docker=docker)


def _write_blob(
    fill: Callable[[LayerWriter], None],
    compression: str,
    *,
    directory: str | os.PathLike[str] | None,
    level: int | None,
    docker: bool,
) -> LayerFile:
    with LayerWriter(compression, directory=directory, level=level, docker=docker) as writer:
        fill(writer)
        return writer.finish()


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
