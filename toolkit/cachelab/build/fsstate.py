"""The recorded state of a root filesystem: one `Entry` per path, from `lstat`.

A snapshot compares two states to find what an instruction changed. Paths are
root-relative POSIX strings without a leading slash (`etc/passwd`); the root
itself is not recorded. Pseudo filesystems that a RUN sandbox mounts (`proc`,
`sys`, `dev`) are skipped by default, as kaniko skips them too.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

logger = logging.getLogger(__name__)

DEFAULT_IGNORED = frozenset({"proc", "sys", "dev"})


@dataclass(frozen=True, slots=True)
class Entry:
    """What `lstat` reports for one path, plus its symlink target."""

    mode: int  # full st_mode: file type and permission bits
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    dev: int
    nlink: int
    rdev: int = 0
    link_target: str | None = None

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def file_type(self) -> int:
        return stat.S_IFMT(self.mode)

    def same_content_as(self, other: Entry) -> bool:
        """Tell whether nothing a layer records differs between the two entries.

        The inode change time is compared as well, so a rewrite that restores
        the old modification time still counts as a change.
        """
        return (
            self.mode == other.mode
            and self.uid == other.uid
            and self.gid == other.gid
            and self.size == other.size
            and self.mtime_ns == other.mtime_ns
            and self.ctime_ns == other.ctime_ns
            and self.ino == other.ino
            and self.rdev == other.rdev
            and self.link_target == other.link_target
        )


FsState = dict[str, Entry]


def entry_from_stat(full_path: str, st: os.stat_result) -> Entry:
    link_target = os.readlink(full_path) if stat.S_ISLNK(st.st_mode) else None
    return Entry(
        mode=st.st_mode,
        uid=st.st_uid,
        gid=st.st_gid,
        size=st.st_size if stat.S_ISREG(st.st_mode) else 0,
        mtime_ns=st.st_mtime_ns,
        ctime_ns=st.st_ctime_ns,
        ino=st.st_ino,
        dev=st.st_dev,
        nlink=st.st_nlink,
        rdev=st.st_rdev,
        link_target=link_target,
    )


def apply_owners(entry: Entry, rel: str, owners: Mapping[str, tuple[int, int]]) -> Entry:
    """Replace the owner of `entry` by the side table's, when the table has `rel`."""
    owner = owners.get(rel)
    if owner is None or owner == (entry.uid, entry.gid):
        return entry
    return replace(entry, uid=owner[0], gid=owner[1])


def _walk(root: str, rel_dir: str, ignored: frozenset[str]) -> Iterator[tuple[str, str, os.stat_result]]:
    full_dir = os.path.join(root, rel_dir) if rel_dir else root
    try:
        scanner = os.scandir(full_dir)
    except FileNotFoundError:
        return
    with scanner:
        children = sorted(scanner, key=lambda item: item.name)
    for child in children:
        rel = f"{rel_dir}/{child.name}" if rel_dir else child.name
        if rel in ignored:
            continue
        try:
            st = child.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed while walking
        yield rel, child.path, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(root, rel, ignored)


def _entry(full: str, rel: str, st: os.stat_result, owners: Mapping[str, tuple[int, int]] | None) -> Entry:
    entry = entry_from_stat(full, st)
    return apply_owners(entry, rel, owners) if owners else entry


def scan(
    root: str | os.PathLike[str],
    *,
    ignored: Iterable[str] = DEFAULT_IGNORED,
    owners: Mapping[str, tuple[int, int]] | None = None,
) -> FsState:
    """Record every path under `root` in pre-order, children sorted by name."""
    root_str = os.fspath(root)
    state: FsState = {}
    for rel, full, st in _walk(root_str, "", frozenset(ignored)):
        state[rel] = _entry(full, rel, st, owners)
    logger.debug("scanned %d paths under %s", len(state), root_str)
    return state


def scan_paths(
    root: str | os.PathLike[str],
    paths: Iterable[str],
    *,
    ignored: Iterable[str] = DEFAULT_IGNORED,
    owners: Mapping[str, tuple[int, int]] | None = None,
) -> FsState:
    """Record only `paths` (root-relative), their parent directories and their subtrees."""
    root_str = os.fspath(root)
    ignored_set = frozenset(ignored)
    state: FsState = {}
    for raw in paths:
        rel = normalize_rel(raw)
        if not rel or rel.split("/")[0] in ignored_set:
            continue
        parts = rel.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if prefix in state:
                continue
            full = os.path.join(root_str, prefix)
            try:
                st = os.lstat(full)
            except (FileNotFoundError, NotADirectoryError):
                break
            state[prefix] = _entry(full, prefix, st, owners)
            if stat.S_ISLNK(st.st_mode) and depth < len(parts):
                break  # the rest of the path lies behind a symlink, maybe outside the root
        if rel in state and state[rel].is_dir:
            for child_rel, child_full, st in _walk(root_str, rel, ignored_set):
                state[child_rel] = _entry(child_full, child_rel, st, owners)
    return state


def normalize_rel(path: str) -> str:
    """Turn `/a/./b/` or `a//b` into the root-relative form `a/b` (`""` for the root)."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"path {path!r} must not contain '..'")
    return "/".join(parts)
