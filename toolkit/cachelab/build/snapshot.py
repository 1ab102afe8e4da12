"""Filesystem snapshots: the layer tar of what changed in a stage root.

`Snapshotter` keeps the state of a root after the last snapshot. `take()` walks
the whole root (after RUN); `take_paths()` looks only at the paths an instruction
reports it touched, plus their parent directories (COPY, ADD, WORKDIR). Both
write an uncompressed PAX tar of the changes and make the new state current.

Changes are written as OCI layer changesets:

* added or modified paths as ordinary entries, with owners, modes and integer
  modification times;
* a deleted path as a whiteout `<dir>/.wh.<name>`, only for the top-most deleted
  path (a deleted directory hides its whole subtree);
* a directory whose inode changed (removed and created again) gets the opaque
  marker `<dir>/.wh..wh..opq` right after its own entry, so nothing of the lower
  layers shows through, followed by its new content;
* a path that changed type (file to directory or back) gets a whiteout and its
  new entry in the same layer.

Entries appear in path order, parents first, so the same tree and the same
previous state always give the same tar bytes. A second hard link to an inode
already written in the layer is a tar hard-link entry; otherwise it carries its
content. Of the extended attributes only file capabilities are kept. An
empty change set still gives a valid, empty tar (two zero blocks),
because kaniko appends one layer per instruction when the cache is on.
"""

from __future__ import annotations

import logging
import os
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from cachelab.build.fsstate import DEFAULT_IGNORED, Entry, FsState, normalize_rel, scan, scan_paths

logger = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
CAPABILITY_PAX_KEY = "SCHILY.xattr.security.capability"
_COPY_BUFFER = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """The differences between two states of one root."""

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()  # only the top-most deleted paths
    opaque: tuple[str, ...] = ()  # directories recreated with a new inode
    retyped: tuple[str, ...] = ()  # paths whose file type changed

    @property
    def empty(self) -> bool:
        return not (self.added or self.modified or self.deleted)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One written layer tar and what it contains."""

    path: str | None  # None when the tar went to a stream
    changes: ChangeSet
    entries: int  # tar members written, whiteouts included
    size: int  # bytes of the uncompressed tar


def diff_states(before: FsState, after: FsState, *, within: Iterable[str] | None = None) -> ChangeSet:
    """Compare two states; with `within`, only those paths and their subtrees count.

    `within` is the fast path's scope: paths outside it are neither added,
    modified nor deleted, whatever the states say.
    """
    scope = None if within is None else [normalize_rel(path) for path in within]

    def in_scope(rel: str) -> bool:
        if scope is None:
            return True
        return any(rel == top or rel.startswith(top + "/") or top.startswith(rel + "/") for top in scope)

    added: list[str] = []
    modified: list[str] = []
    opaque: list[str] = []
    retyped: list[str] = []
    for rel, entry in after.items():
        old = before.get(rel)
        if old is None:
            added.append(rel)
        elif old.file_type != entry.file_type:
            retyped.append(rel)
            modified.append(rel)
        elif entry.is_dir and old.ino != entry.ino:
            opaque.append(rel)
            modified.append(rel)
        elif not old.same_content_as(entry):
            modified.append(rel)

    deleted: list[str] = []
    gone = {rel for rel in before if rel not in after and in_scope(rel)}
    # A whiteout of the parent, its opaque marker or its new non-directory entry
    # already hides everything below it.
    hidden_below = gone | set(opaque) | set(retyped)
    for rel in gone:
        parent = rel.rpartition("/")[0]
        if parent and parent in hidden_below:
            continue
        deleted.append(rel)

    return ChangeSet(
        added=tuple(sorted(added, key=_path_key)),
        modified=tuple(sorted(modified, key=_path_key)),
        deleted=tuple(sorted(deleted, key=_path_key)),
        opaque=tuple(sorted(opaque, key=_path_key)),
        retyped=tuple(sorted(retyped, key=_path_key)),
    )


def _path_key(rel: str) -> tuple[str, ...]:
    return tuple(rel.split("/"))


def write_layer_tar(
    root: str | os.PathLike[str],
    after: FsState,
    changes: ChangeSet,
    dest: str | os.PathLike[str] | BinaryIO,
) -> Snapshot:
    """Stream the tar of `changes` to `dest`, reading file content from `root`.

    `dest` is a path, or a writable stream such as a `LayerWriter`, which then
    compresses the layer without an uncompressed copy on disk.
    """
    if isinstance(dest, (str, os.PathLike)):
        with open(dest, "wb", buffering=_COPY_BUFFER) as raw:
            snapshot = write_layer_tar(root, after, changes, raw)
        return Snapshot(path=os.fspath(dest), changes=changes, entries=snapshot.entries, size=snapshot.size)

    root_str = os.fspath(root)
    members = _ordered_members(changes)
    written_inodes: dict[tuple[int, int], str] = {}
    count = 0
    out = _TarOutput(dest)
    # Mode "w" writes straight to the stream; the stream mode "w|" would copy
    # every block through its own buffer.
    with tarfile.TarFile(
        fileobj=out, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8", copybufsize=_COPY_BUFFER
    ) as tar:
        for rel, kind in members:
            if kind == "whiteout":
                parent, _, name = rel.rpartition("/")
                tar.addfile(_marker_info(_join(parent, WHITEOUT_PREFIX + name)))
            elif kind == "opaque":
                tar.addfile(_marker_info(_join(rel, OPAQUE_MARKER)))
            else:
                _add_entry(tar, root_str, rel, after[rel], written_inodes)
            count += 1
        # tarfile pads the archive to a 10 KiB record; Go's archive/tar, which
        # kaniko uses, ends after the two zero blocks. Dropping the padding makes
        # an empty layer the well-known 1024 zero bytes.
        out.limit = tar.offset + 2 * tarfile.BLOCKSIZE
    logger.debug(
        "wrote layer tar: %d entries, %d bytes (%d added, %d modified, %d deleted)",
        count, out.written, len(changes.added), len(changes.modified), len(changes.deleted),
    )
    return Snapshot(path=None, changes=changes, entries=count, size=out.written)


class _TarOutput:
    """The stream tarfile writes to: passes bytes on to `dest` up to `limit`, then drops them."""

    def __init__(self, dest: BinaryIO) -> None:
        self._dest = dest
        self.written = 0
        self.limit: int | None = None

    def write(self, data: bytes) -> int:
        count = len(data)
        if self.limit is not None:
            data = data[: max(self.limit - self.written, 0)]
        if data:
            self._dest.write(data)
            self.written += len(data)
        return count

    def tell(self) -> int:
        return self.written


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _ordered_members(changes: ChangeSet) -> list[tuple[str, str]]:
    # Sort keys: a path's own entry, then its opaque marker (empty last component
    # sorts before every child name), then its children.
    keyed: list[tuple[tuple[str, ...], int, str, str]] = []
    for rel in changes.deleted:
        parent, _, name = rel.rpartition("/")
        keyed.append((_path_key(_join(parent, WHITEOUT_PREFIX + name)), 0, rel, "whiteout"))
    for rel in changes.retyped:
        parent, _, name = rel.rpartition("/")
        keyed.append((_path_key(_join(parent, WHITEOUT_PREFIX + name)), 0, rel, "whiteout"))
    for rel in changes.opaque:
        keyed.append((_path_key(rel) + ("",), 0, rel, "opaque"))
    for rel in (*changes.added, *changes.modified):
        keyed.append((_path_key(rel), 1, rel, "entry"))
    keyed.sort()
    return [(rel, kind) for _, _, rel, kind in keyed]


def _marker_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.REGTYPE
    info.mode = 0o644
    info.mtime = 0
    return info


def _add_entry(
    tar: tarfile.TarFile,
    root: str,
    rel: str,
    entry: Entry,
    written_inodes: dict[tuple[int, int], str],
) -> None:
    info = tarfile.TarInfo(rel + "/" if entry.is_dir else rel)
    info.mode = stat.S_IMODE(entry.mode)
    info.uid = entry.uid
    info.gid = entry.gid
    info.uname = ""
    info.gname = ""
    info.mtime = entry.mtime_ns // 1_000_000_000
    file_type = entry.file_type

    if file_type == stat.S_IFDIR:
        info.type = tarfile.DIRTYPE
    elif file_type == stat.S_IFLNK:
        info.type = tarfile.SYMTYPE
        info.linkname = entry.link_target or ""
    elif file_type == stat.S_IFREG:
        inode = (entry.dev, entry.ino)
        first = written_inodes.get(inode) if entry.nlink > 1 else None
        if first is not None:
            info.type = tarfile.LNKTYPE
            info.linkname = first
        else:
            if entry.nlink > 1:
                written_inodes[inode] = rel
            info.type = tarfile.REGTYPE
            info.size = entry.size
            capability = _file_capability(os.path.join(root, rel))
            if capability is not None:
                info.pax_headers = {CAPABILITY_PAX_KEY: capability}
            with open(os.path.join(root, rel), "rb") as content:
                tar.addfile(info, _SizedReader(content, entry.size))
            return
    elif file_type in (stat.S_IFCHR, stat.S_IFBLK):
        info.type = tarfile.CHRTYPE if file_type == stat.S_IFCHR else tarfile.BLKTYPE
        info.devmajor = os.major(entry.rdev)
        info.devminor = os.minor(entry.rdev)
    elif file_type == stat.S_IFIFO:
        info.type = tarfile.FIFOTYPE
    else:
        logger.warning("skipping %s: sockets cannot be stored in a layer", rel)
        return
    tar.addfile(info)


def _file_capability(path: str) -> str | None:
    """Return a file's `security.capability` xattr as a PAX value, or None.

    kaniko keeps this one extended attribute (file capabilities, as `setcap`
    writes them) in its layers and drops the others; so does this snapshot.
    """
    try:
        value = os.getxattr(path, "security.capability", follow_symlinks=False)
    except OSError:
        return None  # no such attribute, or a file system without xattrs
    return value.decode("utf-8", "surrogateescape")


class _SizedReader:
    """Read exactly `size` bytes, padding with zeros if the file shrank meanwhile."""

    def __init__(self, stream: object, size: int) -> None:
        self._stream = stream
        self._left = size

    def read(self, count: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        if count < 0 or count > self._left:
            count = self._left
        data = self._stream.read(min(count, _COPY_BUFFER))  # type: ignore[attr-defined]
        if not data:
            data = b"\0" * min(count, _COPY_BUFFER)
        self._left -= len(data)
        return data


@dataclass
class Snapshotter:
    """The changes of one stage root, one layer tar per call.

    `owners` is the ownership side table (root-relative path to uid, gid) that
    COPY --chown fills when the builder cannot `lchown` because it does not run
    as root; its values override what `lstat` reports. `state` is the state to
    compare against: by default the root as it is now, and `{}` makes the whole
    root part of the first layer.
    """

    root: str
    ignored: frozenset[str] = DEFAULT_IGNORED
    owners: dict[str, tuple[int, int]] = field(default_factory=dict)
    state: FsState | None = None

    def __post_init__(self) -> None:
        self.root = os.fspath(self.root)
        if self.state is None:
            self.reset()

    def reset(self) -> None:
        """Record the current root as the state the next snapshot compares against."""
        self.state = scan(self.root, ignored=self.ignored, owners=self.owners)

    def take(self, dest: str | os.PathLike[str] | BinaryIO) -> Snapshot:
        """Write the layer of every change since the last snapshot (full walk)."""
        after = scan(self.root, ignored=self.ignored, owners=self.owners)
        changes = diff_states(self._baseline(), after)
        result = write_layer_tar(self.root, after, changes, dest)
        self.state = after
        return result

    def take_paths(self, paths: Iterable[str], dest: str | os.PathLike[str] | BinaryIO) -> Snapshot:
        """Write the layer of the changes at `paths`, their parents and subtrees only.

        Deletions outside `paths` go unnoticed, so use this only for instructions
        that add or overwrite files (COPY, ADD, WORKDIR).
        """
        scope = [normalize_rel(path) for path in paths]
        scope = [rel for rel in scope if rel]
        partial = scan_paths(self.root, scope, ignored=self.ignored, owners=self.owners)
        before_in_scope = {
            rel: entry for rel, entry in self._baseline().items()
            if rel in partial or any(rel.startswith(top + "/") for top in scope)
        }
        changes = diff_states(before_in_scope, partial, within=scope)
        result = write_layer_tar(self.root, partial, changes, dest)
        for rel in changes.deleted:
            self._forget(rel)
        self._baseline().update(partial)
        return result

    def empty_layer(self, dest: str | os.PathLike[str] | BinaryIO) -> Snapshot:
        """Write an empty layer tar, for instructions that change no file."""
        return write_layer_tar(self.root, {}, ChangeSet(), dest)

    def record_owner(self, rel: str, uid: int, gid: int) -> None:
        self.owners[normalize_rel(rel)] = (uid, gid)

    def _forget(self, rel: str) -> None:
        prefix = rel + "/"
        state = self._baseline()
        for key in [key for key in state if key == rel or key.startswith(prefix)]:
            del state[key]

    def _baseline(self) -> FsState:
        if self.state is None:
            self.reset()
        assert self.state is not None
        return self.state
