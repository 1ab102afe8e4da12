"""Reading a layer's tar entries without extracting them.

`scan_layer` streams one layer blob once: it sniffs the compression, counts the
entries and the uncompressed bytes, computes the diff_id, and hands each entry
(with the sha256 of a regular file's content, on request) to a callback.
Whiteout markers are reported as entries of kind `whiteout` or `opaque`, named
by the path they delete or the directory they make opaque.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from cachelab.oci.compression import deflate, open_decompressed, sniff
from cachelab.oci.errors import InvalidLayerError
from cachelab.oci.layers import OPAQUE_WHITEOUT, WHITEOUT_PREFIX

READ_SIZE = 1 << 20

# Exceptions of a damaged or non-layer stream, raised while it is decompressed or read as tar.
# isal's type stub declares `error` as an instance, hence the ignore.
LAYER_STREAM_ERRORS: tuple[type[Exception], ...] = (  # type: ignore[assignment]
    tarfile.TarError, EOFError, zlib.error, deflate.error, zstandard.ZstdError,
)

_KINDS = {
    tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo",
}


@dataclass(frozen=True, slots=True)
class TarEntry:
    """One entry of a layer: its path relative to the root and its metadata."""

    path: str
    kind: str  # file, dir, symlink, hardlink, char, block, fifo, whiteout, opaque
    mode: int  # permission bits, including setuid, setgid and sticky
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str = ""
    content_digest: str | None = None  # sha256 of a regular file's content, when requested


@dataclass(frozen=True, slots=True)
class LayerScan:
    """Totals of one scanned layer."""

    compression: str  # gzip, zstd or none, from the blob's magic bytes
    entries: int
    uncompressed_size: int  # bytes of the tar stream, end-of-archive blocks included
    diff_id: str  # sha256 of the tar stream


class _RecordingReader:
    """A stream wrapper that keeps the first bytes read, for sniffing the compression."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.prefix = b""

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if len(self.prefix) < 4:
            self.prefix += data[: 4 - len(self.prefix)]
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        # The caller owns the blob. It stays open so a failed scan can read it to its end.
        pass


class _HashingReader:
    """A stream wrapper that hashes and counts every byte read through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.hash = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.hash.update(data)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True


def normalize_path(name: str) -> str:
    """Return a tar entry name without a leading `./` or `/` and without a trailing `/`."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    return "/".join(parts)


def entry_of(member: tarfile.TarInfo, content_digest: str | None = None) -> TarEntry:
    """Describe a tar member, turning whiteout markers into `whiteout` and `opaque` entries."""
    path = normalize_path(member.name)
    directory, base = os.path.split(path)
    kind = _KINDS.get(member.type, f"type-{member.type!r}")
    if base == OPAQUE_WHITEOUT:
        path, kind = directory, "opaque"
    elif base.startswith(WHITEOUT_PREFIX):
        path, kind = os.path.join(directory, base[len(WHITEOUT_PREFIX):]), "whiteout"
    return TarEntry(path, kind, member.mode & 0o7777, member.uid, member.gid,
                    member.size if member.isreg() else 0, int(member.mtime), member.linkname, content_digest)


def scan_layer(
    blob: BinaryIO,
    *,
    visit: Callable[[TarEntry], None] | None = None,
    hash_content: bool = False,
    layer_digest: str = "",
) -> LayerScan:
    """Read a compressed or plain layer blob to its end and return its totals.

    `visit` receives every entry in archive order; with `hash_content` a regular
    file's entry carries the sha256 of its content. The blob is read once and
    memory stays flat whatever its size, and the caller closes it. Reading a
    verifying stream to its end checks the blob's digest. A blob that does not decompress or is not a tar
    archive raises InvalidLayerError naming `layer_digest`.
    """
    try:
        return _scan(blob, visit, hash_content)
    except LAYER_STREAM_ERRORS as error:
        # A verifying source checks its digest only at its end. Reading the rest
        # lets it report altered bytes as DigestMismatch.
        while blob.read(READ_SIZE):
            pass
        raise InvalidLayerError(layer_digest or "blob", f"{type(error).__name__}: {error}") from error


def _scan(blob: BinaryIO, visit: Callable[[TarEntry], None] | None, hash_content: bool) -> LayerScan:
    recorder = _RecordingReader(blob)
    with open_decompressed(recorder) as decompressed:  # type: ignore[arg-type]
        hashing = _HashingReader(decompressed)
        entries = 0
        with tarfile.open(fileobj=hashing, mode="r|") as archive:  # type: ignore[call-overload]
            for member in archive:
                entries += 1
                digest = _content_digest(archive, member) if hash_content and member.isreg() else None
                if visit is not None:
                    visit(entry_of(member, digest))
                # A stream-mode archive keeps every member; drop them to keep memory flat.
                archive.members.clear()
        while hashing.read(READ_SIZE):
            pass
        # Bytes may follow the end of the compressed stream. Reading them too lets
        # a verifying source hash the whole blob.
        while recorder.read(READ_SIZE):
            pass
    return LayerScan(sniff(recorder.prefix), entries, hashing.count, "sha256:" + hashing.hash.hexdigest())


def _content_digest(archive: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    content = archive.extractfile(member)
    digest = hashlib.sha256()
    if content is not None:
        while chunk := content.read(READ_SIZE):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()
