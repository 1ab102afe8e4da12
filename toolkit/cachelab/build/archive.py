"""ADD of a local tar archive: detect it and extract it into the destination.

Docker's ADD unpacks a local file that is a tar archive, plain or compressed
with gzip, bzip2, xz or zstd, and copies any other file as is. Detection reads
the magic bytes of the compressed forms and, for a plain tar, the `ustar` magic
at offset 257. Extraction goes through `cachelab.oci.extract`, so entries that
would leave the destination are rejected.
"""

from __future__ import annotations

import bz2
import logging
import lzma
import tarfile
from typing import BinaryIO

from cachelab.oci.compression import open_decompressed
from cachelab.oci.extract import ExtractStats, extract_layer

logger = logging.getLogger(__name__)

_GZIP = b"\x1f\x8b"
_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_ZSTD = b"\x28\xb5\x2f\xfd"
_USTAR_OFFSET = 257


def archive_kind(path: str) -> str | None:
    """Return "gzip", "bzip2", "xz", "zstd" or "tar" for an archive, else None."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head.startswith(_GZIP):
        kind = "gzip"
    elif head.startswith(_BZIP2):
        kind = "bzip2"
    elif head.startswith(_XZ):
        kind = "xz"
    elif head.startswith(_ZSTD):
        kind = "zstd"
    elif head[_USTAR_OFFSET:_USTAR_OFFSET + 5] == b"ustar":
        return "tar"
    else:
        return None
    return kind if _holds_tar(path, kind) else None


def _open_plain(path: str, kind: str) -> BinaryIO:
    if kind == "bzip2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if kind == "xz":
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open_decompressed(open(path, "rb"))


def _holds_tar(path: str, kind: str) -> bool:
    # A compressed file that is not a tar (`app.gz`) is copied, not unpacked.
    try:
        with _open_plain(path, kind) as stream:
            head = stream.read(512)
    except (OSError, EOFError, lzma.LZMAError):
        return False
    if len(head) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def extract_archive(path: str, dest_dir: str, kind: str) -> ExtractStats:
    """Extract the archive at `path` into `dest_dir` (created when missing).

    NOTE: `extract_layer` applies OCI whiteout entries (`.wh.*`), which Docker's
    ADD would write as ordinary files.
    """
    with _open_plain(path, kind) as stream:
        stats = extract_layer(stream, dest_dir, layer_digest=f"archive {path}")
    logger.debug("unpacked %s (%s) into %s: %s", path, kind, dest_dir, stats)
    return stats
