"""Safe extraction of layer blobs into a root directory, applying whiteouts.

Every entry name is resolved component by component inside the root. A symlink
met on the way is followed as a process chrooted into the root would follow it:
an absolute target starts again at the root, and a relative target that climbs
above the root is rejected. The entry's own last component is never followed, so
an existing symlink there is replaced, not written through. The rules:

* absolute entry names and names with a `..` component are rejected;
* a symlink whose relative target climbs above the root is rejected (absolute
  targets such as `/bin/busybox` are kept, since they stay in the root when the
  image runs);
* a hard link must name an existing entry inside the root;
* device nodes are rejected unless devices are allowed (by default only as root);
* the sum of the entries' sizes is capped, so a decompression bomb stops early.

A rejected entry raises `UnsafeLayerError` naming the layer digest, the entry
and, when the caller passes it, the image reference;
entries before it stay written, inside the root. A stream that does not
decompress or is not a tar archive raises `InvalidLayerError`.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from cachelab.oci.compression import PrefetchReader, open_decompressed
from cachelab.oci.errors import InvalidLayerError, UnsafeLayerError
from cachelab.oci.layers import OPAQUE_WHITEOUT, WHITEOUT_PREFIX
from cachelab.oci.tarindex import LAYER_STREAM_ERRORS

logger = logging.getLogger(__name__)

# Default cap on the uncompressed bytes of one layer: 64 GiB. Raise it per call
# for larger layers.
DEFAULT_MAX_SIZE = 64 << 30
# Symlinks followed while resolving one entry name, as Linux's MAXSYMLINKS.
MAX_SYMLINK_HOPS = 40
COPY_BUFFER = 1 << 20


@dataclass
class ExtractStats:
    """Counters of one extraction."""

    entries: int = 0
    file_bytes: int = 0  # bytes of regular-file content written
    whiteouts: int = 0
    skipped_xattrs: int = 0


@dataclass
class _State:
    root: Path
    digest: str
    allow_devices: bool
    same_owner: bool
    stats: ExtractStats = field(default_factory=ExtractStats)
    # Paths (relative to the root) this layer wrote; an opaque whiteout keeps them.
    written: set[str] = field(default_factory=set)
    directories: list[tuple[Path, tarfile.TarInfo]] = field(default_factory=list)


class _ForwardReader:
    """A forward-only stream that lets tarfile's seekable mode read a pipe.

    tarfile's stream mode ("r|") copies its whole read buffer on every header
    read, so this wrapper offers the seek and tell of the seekable mode
    instead: seeking forward reads and discards, and the one backward seek
    tarfile makes (one byte, to check that skipped data exists) is served from
    the last byte read. It raises UnsafeLayerError once more than `limit` bytes
    were read.
    """

    def __init__(self, raw: BinaryIO, limit: int, digest: str) -> None:
        self._raw = raw
        self._limit = limit
        self._digest = digest
        self._position = 0
        self._last = b""
        self._replay = False

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a layer stream can only seek forward from the start")
        if offset == self._position - 1 and self._last and not self._replay:
            self._replay = True
            self._position -= 1
        elif offset < self._position:
            raise io.UnsupportedOperation(f"cannot seek back from {self._position} to {offset} in a layer stream")
        while self._position < offset:
            if not self.read(min(offset - self._position, COPY_BUFFER)):
                break
        return self._position

    def read(self, size: int = -1) -> bytes:
        """Return `size` bytes, fewer only at the end of the stream (tarfile relies on that)."""
        parts = []
        wanted = size if size >= 0 else self._limit + 1
        while wanted > 0:
            data = self.read_some(wanted)
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_some(self, size: int) -> bytes:
        """Return at most `size` bytes from one read of the source; empty only at the end."""
        if self._replay:
            self._replay = False
            self._position += 1
            return self._last
        data = self._raw.read(size)
        self._position += len(data)
        if self._position > self._limit:
            raise UnsafeLayerError(
                self._digest, "<stream>", f"uncompressed size exceeds the limit of {self._limit} bytes"
            )
        if data:
            self._last = data[-1:]
        return data


def extract_layer(
    blob: BinaryIO,
    root: str | os.PathLike[str],
    *,
    layer_digest: str,
    image: str | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
    allow_devices: bool | None = None,
    same_owner: bool | None = None,
) -> ExtractStats:
    """Extract one compressed or plain layer stream into `root`, applying whiteouts.

    `image` is the reference of the image the layer belongs to, which errors name.
    `allow_devices` and `same_owner` default to whether the process runs as root.
    The stream is read once, front to back, to its end, and closed; memory stays
    flat whatever the size.
    """
    is_root = os.geteuid() == 0
    state = _State(
        root=Path(root).resolve(),
        digest=layer_digest,
        allow_devices=is_root if allow_devices is None else allow_devices,
        same_owner=is_root if same_owner is None else same_owner,
    )
    state.root.mkdir(parents=True, exist_ok=True)
    try:
        _extract_stream(_Unclosable(blob), state, max_size)
    except UnsafeLayerError as error:
        if image is None:
            raise
        raise error.with_image(image) from error
    except LAYER_STREAM_ERRORS as error:
        # A verifying source, such as a registry download, checks its digest only
        # at its end. Reading the rest lets it report altered bytes as DigestMismatch.
        while blob.read(COPY_BUFFER):
            pass
        raise InvalidLayerError(layer_digest, f"{type(error).__name__}: {error}", image=image) from error
    finally:
        blob.close()

    # Directory modes and times last: writing children changes a directory's mtime,
    # and a read-only mode would block later entries. A later entry may have
    # replaced a directory or one of its parents with a symlink. Such paths are
    # skipped, because following them could change files outside the root.
    for path, member in reversed(state.directories):
        if _is_real_directory(state.root, path):
            _apply_metadata(path, member, state)
    logger.debug("extracted layer %s: %s", layer_digest, state.stats)
    return state.stats


class _Unclosable:
    """A stream's `read` without its `close`, so the stream outlives the readers stacked on it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        return self._raw.read(size)

    def close(self) -> None:
        pass


def _extract_stream(blob: _Unclosable, state: _State, max_size: int) -> None:
    layer_digest = state.digest
    # Decompression runs in a prefetch thread, in parallel with writing files.
    with PrefetchReader(open_decompressed(blob)) as prefetched:  # type: ignore[arg-type]
        reader = _ForwardReader(prefetched, max_size, layer_digest)  # type: ignore[arg-type]
        with tarfile.open(fileobj=reader, mode="r:") as archive:  # type: ignore[call-overload]
            while (member := archive.next()) is not None:
                # tarfile keeps every member it read; drop them to keep memory flat.
                archive.members.clear()
                _extract_member(archive, reader, member, state, max_size - state.stats.file_bytes)
        # Read past the end-of-archive blocks to the end of the blob, so a
        # verifying source stream checks the digest of every byte.
        while reader.read(COPY_BUFFER):
            pass


def _extract_member(
    archive: tarfile.TarFile, reader: _ForwardReader, member: tarfile.TarInfo, state: _State, remaining: int
) -> None:
    name = _checked_name(member.name, state)
    if name is None:
        return  # the root directory itself
    if member.size > remaining and member.isreg():
        raise UnsafeLayerError(
            state.digest, member.name,
            f"entry of {member.size} bytes exceeds the remaining size limit of {remaining} bytes",
        )
    parent_rel, base = os.path.split(name)
    parent = _resolve(state, parent_rel, member.name)
    state.stats.entries += 1

    if base == OPAQUE_WHITEOUT:
        _apply_opaque(state, parent, parent_rel)
        return
    if base.startswith(WHITEOUT_PREFIX):
        _remove(parent / base[len(WHITEOUT_PREFIX):])
        state.stats.whiteouts += 1
        return

    _make_parents(state, parent)
    target = parent / base
    state.written.add(name)

    if member.isdir():
        _make_directory(target)
        state.directories.append((target, member))
        return
    if member.issym():
        _check_symlink(member, name, state)
    elif member.islnk():
        source = _hardlink_source(member, state)
    elif (member.ischr() or member.isblk()) and not state.allow_devices:
        raise UnsafeLayerError(
            state.digest, member.name,
            "device node, and devices are not allowed (extraction does not run as root)",
        )

    _remove(target)
    if member.isreg():
        _write_file(archive, reader, member, target, state)
    elif member.issym():
        os.symlink(member.linkname, target)
    elif member.islnk():
        # A hard link shares the inode of its target, whose metadata is already set;
        # the link entry's own mode and times would overwrite it.
        os.link(source, target, follow_symlinks=False)
        return
    elif member.ischr() or member.isblk():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        device = os.makedev(member.devmajor, member.devminor)
        os.mknod(target, kind | (member.mode & 0o7777), device)
    elif member.isfifo():
        os.mkfifo(target, member.mode & 0o7777)
    else:
        raise UnsafeLayerError(state.digest, member.name, f"unsupported tar entry type {member.type!r}")
    _apply_metadata(target, member, state)


def _checked_name(name: str, state: _State) -> str | None:
    if name.startswith("/"):
        raise UnsafeLayerError(state.digest, name, "absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayerError(state.digest, name, "path contains '..'")
    return "/".join(parts) or None


def _resolve(state: _State, relative: str, entry: str) -> Path:
    """Resolve a directory path inside the root, following symlinks chroot-style."""
    pending = [part for part in relative.split("/") if part]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise UnsafeLayerError(state.digest, entry, "a symlink on its path leads outside the root")
            resolved.pop()
            continue
        candidate = state.root.joinpath(*resolved, part)
        try:
            mode = os.lstat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if stat.S_ISLNK(mode):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise UnsafeLayerError(state.digest, entry, "too many levels of symlinks on its path")
            link = os.readlink(candidate)
            if link.startswith("/"):
                resolved = []
            pending = [p for p in link.split("/") if p] + pending
            continue
        resolved.append(part)
    return state.root.joinpath(*resolved)


def _is_real_directory(root: Path, path: Path) -> bool:
    """Return whether `path` is a directory under `root` with no symlink on the way."""
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(mode):
            return False
    return True


def _make_parents(state: _State, parent: Path) -> None:
    # Missing parents are created as plain directories; `_resolve` already walked
    # every existing component, so none of them is a symlink.
    if parent.is_dir() and not parent.is_symlink():
        return
    current = state.root
    for part in parent.relative_to(state.root).parts:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            current.unlink()
        if not current.exists():
            current.mkdir(mode=0o755)


def _make_directory(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()
    target.mkdir(mode=0o755, exist_ok=True)


def _write_file(
    archive: tarfile.TarFile, reader: _ForwardReader, member: tarfile.TarInfo, target: Path, state: _State
) -> None:
    # A plain member's data follows its header in the stream, so it is copied
    # straight from the reader; tarfile's file object would copy every byte twice
    # more. Sparse members need tarfile's map of holes.
    source: _ForwardReader | IO[bytes]
    if member.sparse is None:
        reader.seek(member.offset_data)
        source = reader
    else:
        extracted = archive.extractfile(member)
        assert extracted is not None  # a regular member always has content
        source = extracted
    read = source.read_some if isinstance(source, _ForwardReader) else source.read
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(target, flags, 0o600)
    with os.fdopen(descriptor, "wb", buffering=0) as out:
        remaining = member.size
        while remaining:
            chunk = read(min(COPY_BUFFER, remaining))
            if not chunk:
                raise UnsafeLayerError(state.digest, member.name, "layer ends inside this entry's content")
            out.write(chunk)
            remaining -= len(chunk)
    state.stats.file_bytes += member.size


def _check_symlink(member: tarfile.TarInfo, name: str, state: _State) -> None:
    link = member.linkname
    if link.startswith("/"):
        return
    depth = len(name.split("/")) - 1
    for part in link.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise UnsafeLayerError(state.digest, member.name, f"symlink target {link!r} leads outside the root")
        elif part not in ("", "."):
            depth += 1


def _hardlink_source(member: tarfile.TarInfo, state: _State) -> Path:
    link = member.linkname
    if link.startswith("/") or ".." in link.split("/"):
        raise UnsafeLayerError(
            state.digest, member.name, f"hard link target {link!r} is absolute or contains '..'"
        )
    link = "/".join(part for part in link.split("/") if part not in ("", "."))
    if not link:
        raise UnsafeLayerError(state.digest, member.name, "hard link to the root directory")
    parent_rel, base = os.path.split(link)
    source = _resolve(state, parent_rel, member.name) / base
    if not os.path.lexists(source):
        raise UnsafeLayerError(state.digest, member.name, f"hard link target {member.linkname!r} does not exist")
    if os.path.isdir(source) and not os.path.islink(source):
        raise UnsafeLayerError(state.digest, member.name, f"hard link target {member.linkname!r} is a directory")
    return source


def _apply_opaque(state: _State, directory: Path, relative: str) -> None:
    # An opaque directory hides what lower layers put there, but keeps what this
    # layer wrote, whichever order the entries come in.
    state.stats.whiteouts += 1
    if not directory.is_dir() or directory.is_symlink():
        return
    for child in directory.iterdir():
        child_rel = f"{relative}/{child.name}" if relative else child.name
        if child_rel not in state.written:
            _remove(child)


def _remove(path: Path) -> None:
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _apply_metadata(path: Path, member: tarfile.TarInfo, state: _State) -> None:
    if state.same_owner:
        os.lchown(path, member.uid, member.gid)
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            _set_xattr(path, key[len("SCHILY.xattr."):], value, state)
    if not member.issym():
        # chown clears setuid bits, so the mode comes after the owner.
        os.chmod(path, member.mode & 0o7777)
    try:
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
    except OSError as error:  # utime on a symlink is unsupported on some filesystems
        if error.errno not in (errno.ENOTSUP, errno.EPERM):
            raise


def _set_xattr(path: Path, name: str, value: str, state: _State) -> None:
    try:
        os.setxattr(path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
    except OSError as error:
        # Unprivileged processes cannot set trusted.* or security.* attributes, and
        # some filesystems have no xattr support at all.
        state.stats.skipped_xattrs += 1
        logger.debug("skipped xattr %s on %s: %s", name, path, error)
