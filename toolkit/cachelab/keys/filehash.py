"""File and directory hashing exactly as kaniko feeds files into cache keys.

Per entry (kaniko's `CacheHasher`), an MD5 over, in order:

1. Go's `FileMode.String()` of the `lstat` mode, for example `-rw-r--r--`,
   `drwxr-xr-x`, `Lrwxrwxrwx` or `dtrwxrwxrwx` (see `go_file_mode_string`);
2. the uid in base 36, a comma, the gid in base 36 (`0,0` for root, `rs` = 1000);
3. the content of a regular file, or the target of a symbolic link (not followed).

mtime, size, name, xattrs and hard-link identity are not hashed. A single file
becomes the key part `sha256_hex(md5hex)`. A directory becomes the hex SHA-256 of
`rel + md5hex` (or `"<len>:<rel><len>:<md5hex>"` with `FF_KANIKO_HASH_DIR_FRAMING`)
for every entry that `.dockerignore` does not exclude, in Go `io/fs.WalkDir` order.
`rel` is the path kaniko uses, with the context root's string prefix removed.

kaniko hashes `COPY --from` sources under `/kaniko/deps/<idx>/...`, a path that
exists only inside its container. Functions here therefore take the real path to
read plus the path kaniko would use (`key_path`), which enters the hash and the
`.dockerignore` check.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import stat
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from cachelab.keys.errors import HashInputError

logger = logging.getLogger(__name__)

# Read size for file content. 1 MiB keeps the per-call overhead of Python small
# against the cost of MD5 itself.
CHUNK_SIZE = 1 << 20

# Go's os.FileMode type and special bits, in the order FileMode.String() prints them.
_GO_MODE_LETTERS = "dalTLDpSugct?"
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_DEVICE = 1 << 26
_GO_NAMED_PIPE = 1 << 25
_GO_SOCKET = 1 << 24
_GO_SETUID = 1 << 23
_GO_SETGID = 1 << 22
_GO_CHAR_DEVICE = 1 << 21
_GO_STICKY = 1 << 20
_GO_IRREGULAR = 1 << 19

# Regular files at least this large are hashed on worker threads; below it the
# hand-off costs more than it saves.
PARALLEL_MIN_SIZE = 32 * 1024

_thread_buffers = threading.local()


def go_file_mode(st_mode: int) -> int:
    """Convert a POSIX `st_mode` to Go's `os.FileMode` bits, as Go's `os.Lstat` does on Linux."""
    mode = st_mode & 0o777
    file_type = stat.S_IFMT(st_mode)
    if file_type == stat.S_IFBLK:
        mode |= _GO_DEVICE
    elif file_type == stat.S_IFCHR:
        mode |= _GO_DEVICE | _GO_CHAR_DEVICE
    elif file_type == stat.S_IFDIR:
        mode |= _GO_DIR
    elif file_type == stat.S_IFIFO:
        mode |= _GO_NAMED_PIPE
    elif file_type == stat.S_IFLNK:
        mode |= _GO_SYMLINK
    elif file_type == stat.S_IFSOCK:
        mode |= _GO_SOCKET
    if st_mode & stat.S_ISUID:
        mode |= _GO_SETUID
    if st_mode & stat.S_ISGID:
        mode |= _GO_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= _GO_STICKY
    return mode


@functools.lru_cache(maxsize=1024)
def go_file_mode_string(st_mode: int) -> str:
    """Render a POSIX `st_mode` the way Go's `FileMode.String()` does.

    One letter per set type or special bit in the order `dalTLDpSugct?`, or `-`
    when none is set, then the nine `rwx` permission characters. Unlike `ls`,
    setuid, setgid and sticky never replace an `x`: 04755 is `urwxr-xr-x`.
    """
    mode = go_file_mode(st_mode)
    letters = [
        letter
        for bit_index, letter in enumerate(_GO_MODE_LETTERS)
        if mode & (1 << (31 - bit_index))
    ]
    prefix = "".join(letters) or "-"
    permissions = "".join(
        char if mode & (1 << (8 - index)) else "-" for index, char in enumerate("rwxrwxrwx")
    )
    return prefix + permissions


def base36(number: int) -> str:
    """Format a non-negative integer in base 36 with lowercase digits (Go `FormatUint(n, 36)`)."""
    if number < 0:
        raise ValueError(f"base36 needs a non-negative integer, got {number}")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if number == 0:
        return "0"
    out: list[str] = []
    while number:
        number, remainder = divmod(number, 36)
        out.append(digits[remainder])
    return "".join(reversed(out))


@functools.lru_cache(maxsize=1024)
def owner_string(uid: int, gid: int) -> str:
    """Return the owner as kaniko hashes it: `"<uid base 36>,<gid base 36>"`."""
    return f"{base36(uid)},{base36(gid)}"


@dataclass
class HashStats:
    """Counters of what hashing read: entries hashed and regular-file bytes read."""

    files_hashed: int = 0
    bytes_hashed: int = 0

    def add(self, other: HashStats) -> None:
        self.files_hashed += other.files_hashed
        self.bytes_hashed += other.bytes_hashed


@dataclass(frozen=True, slots=True)
class EntryDigest:
    """One hashed entry, kept so an explanation can name what changed.

    `path` is the path kaniko uses; `mode` and `owner` are the hashed strings,
    `digest` is the entry's MD5 (32 hex). Two entries with equal mode and owner but
    different digests differ in content or link target.
    """

    path: str
    mode: str
    owner: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class PathPart:
    """The key part one source path contributes, with the entries behind it."""

    path: str  # the path kaniko uses
    value: str  # the 64-hex key part
    is_dir: bool
    entries: tuple[EntryDigest, ...] = field(default=(), repr=False)


class ExclusionContext(Protocol):
    """The build context as hashing needs it: its root and its `.dockerignore` test."""

    @property
    def root(self) -> str: ...

    def excludes_file(self, path: str) -> bool: ...


def _buffer() -> memoryview:
    view = getattr(_thread_buffers, "view", None)
    if view is None:
        view = memoryview(bytearray(CHUNK_SIZE))
        _thread_buffers.view = view
    return view


def _hash_content(path: str, digest: hashlib._Hash) -> int:
    """Feed a regular file's bytes into `digest` and return how many were read."""
    view = _buffer()
    total = 0
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    with open(os.open(path, flags), "rb", buffering=0) as stream:
        while True:
            count = stream.readinto(view)
            if not count:
                break
            digest.update(view[:count])
            total += count
    return total


def hash_entry(path: str, *, key_path: str | None = None, stats: HashStats | None = None,
               st: os.stat_result | None = None) -> EntryDigest:
    """Hash one entry like kaniko's `CacheHasher` and return its digest record.

    Raises `HashInputError` when the entry cannot be read.
    """
    try:
        if st is None:
            st = os.lstat(path)
        mode = go_file_mode_string(st.st_mode)
        owner = owner_string(st.st_uid, st.st_gid)
        digest = hashlib.md5(usedforsecurity=False)
        digest.update(mode.encode("ascii"))
        digest.update(owner.encode("ascii"))
        size = 0
        if stat.S_ISREG(st.st_mode):
            size = _hash_content(path, digest)
        elif stat.S_ISLNK(st.st_mode):
            target = os.readlink(os.fsencode(path))
            digest.update(target)
            size = len(target)
    except OSError as exc:
        raise HashInputError(path, exc.strerror or str(exc)) from exc

    if stats is not None:
        stats.files_hashed += 1
        if stat.S_ISREG(st.st_mode):
            stats.bytes_hashed += size
    return EntryDigest(key_path if key_path is not None else path, mode, owner,
                       digest.hexdigest(), size)


def entry_hash(path: str, *, stats: HashStats | None = None) -> str:
    """Return kaniko's per-entry MD5 (32 hex) of `path`: mode, owner, then content or link target."""
    return hash_entry(path, stats=stats).digest


def file_part_of(entry: EntryDigest) -> str:
    """Return the key part of a single non-directory entry: SHA-256 of its MD5 hex text."""
    return hashlib.sha256(entry.digest.encode("ascii")).hexdigest()


def file_part(path: str, *, stats: HashStats | None = None) -> str:
    """Return the key part (64 hex) that a single non-directory path contributes."""
    return file_part_of(hash_entry(path, stats=stats))


def walk_dir(root: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """Walk `root` in Go `io/fs.WalkDir` order and yield `(real path, suffix, lstat)`.

    Pre-order, the root first, each directory's entries sorted by their name's
    bytes, symbolic links listed but not followed. `suffix` is the path below
    `root` with a leading `/` (`""` for the root itself).
    """
    try:
        root_stat = os.lstat(root)
    except OSError as exc:
        raise HashInputError(root, exc.strerror or str(exc)) from exc
    yield root, "", root_stat
    if stat.S_ISDIR(root_stat.st_mode):
        yield from _walk_children(root, "")


def _walk_children(directory: str, suffix: str) -> Iterator[tuple[str, str, os.stat_result]]:
    try:
        with os.scandir(directory) as scan:
            names = sorted((entry.name for entry in scan), key=os.fsencode)
    except OSError as exc:
        raise HashInputError(directory, exc.strerror or str(exc)) from exc
    for name in names:
        path = os.path.join(directory, name)
        child_suffix = f"{suffix}/{name}"
        try:
            child_stat = os.lstat(path)
        except OSError as exc:
            raise HashInputError(path, exc.strerror or str(exc)) from exc
        yield path, child_suffix, child_stat
        if stat.S_ISDIR(child_stat.st_mode):
            yield from _walk_children(path, child_suffix)


def relative_to_root(key_path: str, context_root: str) -> str:
    """Strip the absolute context root from `key_path` as a plain string prefix.

    This is Go's `strings.TrimPrefix` on cleaned absolute paths, so a path outside
    the context (such as `/kaniko/deps/1/app`) keeps its full absolute form.
    """
    root = os.path.abspath(context_root) if context_root else ""
    path = os.path.abspath(key_path)
    if root and path.startswith(root):
        return path[len(root):]
    return path


@functools.cache
def _hash_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


_executor: ThreadPoolExecutor | None = None
_executor_pid = 0
_executor_lock = threading.Lock()


def _shared_executor() -> ThreadPoolExecutor:
    global _executor, _executor_pid
    with _executor_lock:
        # A forked child inherits the executor object but not its threads, so
        # it would wait forever on submitted work: make a new one per process.
        if _executor is None or _executor_pid != os.getpid():
            _executor = ThreadPoolExecutor(_hash_workers(), thread_name_prefix="cachelab-hash")
            _executor_pid = os.getpid()
        return _executor


def _count(entry: EntryDigest, stats: HashStats | None) -> None:
    if stats is None:
        return
    stats.files_hashed += 1
    if entry.mode.startswith("-"):
        stats.bytes_hashed += entry.size


def _hashed_entries(
    real_dir: str, key_dir: str, excluded: Callable[[str], bool] | None, parallel: bool
) -> Iterator[EntryDigest]:
    """Yield the digests of the walked entries that `excluded` keeps, in walk order.

    Regular files of at least PARALLEL_MIN_SIZE bytes are hashed on worker
    threads (MD5 releases the GIL), at most a bounded window ahead of the walk,
    so memory stays flat while the digests still come out in walk order.
    """
    pending: deque[EntryDigest | Future[EntryDigest]] = deque()
    executor = _shared_executor() if parallel and _hash_workers() > 1 else None
    window = 4 * _hash_workers()
    for path, suffix, st in walk_dir(real_dir):
        key_path = key_dir + suffix if key_dir != "/" else (suffix or "/")
        if excluded is not None and excluded(key_path):
            continue
        if executor is not None and stat.S_ISREG(st.st_mode) and st.st_size >= PARALLEL_MIN_SIZE:
            pending.append(executor.submit(hash_entry, path, key_path=key_path, st=st))
        else:
            pending.append(hash_entry(path, key_path=key_path, st=st))
        while len(pending) > window:
            yield _resolve(pending.popleft())
    while pending:
        yield _resolve(pending.popleft())


def _resolve(item: EntryDigest | Future[EntryDigest]) -> EntryDigest:
    return item.result() if isinstance(item, Future) else item


def directory_part(
    real_dir: str,
    key_dir: str | None = None,
    *,
    context_root: str = "",
    excluded: Callable[[str], bool] | None = None,
    framing: bool = False,
    stats: HashStats | None = None,
    parallel: bool = True,
) -> tuple[PathPart, bool]:
    """Hash a directory the way kaniko's `hashDir` does.

    `real_dir` is read; `key_dir` (default `real_dir`) is the path kaniko uses for
    it. Every walked entry's key path is tested with `excluded`; an excluded
    directory is skipped itself but its children are still tested one by one.
    Returns the part and whether nothing at all was fed into the hash.
    """
    key_dir = os.path.normpath(key_dir if key_dir is not None else real_dir)
    root = os.path.abspath(context_root) if context_root else ""
    absolute_dir = os.path.abspath(key_dir)
    # Entries below key_dir share its prefix, so the relative path is the
    # directory's relative path plus the entry's suffix.
    dir_rel = None
    if root and key_dir != "/" and absolute_dir.startswith(root):
        dir_rel = absolute_dir[len(root):]

    digest = hashlib.sha256()
    entries: list[EntryDigest] = []
    for entry in _hashed_entries(real_dir, key_dir, excluded, parallel):
        _count(entry, stats)
        if dir_rel is not None:
            rel_text = dir_rel + entry.path[len(key_dir):]
        else:
            rel_text = relative_to_root(entry.path, context_root)
        rel = os.fsencode(rel_text)
        md5hex = entry.digest.encode("ascii")
        if framing:
            digest.update(b"%d:%s%d:%s" % (len(rel), rel, len(md5hex), md5hex))
        else:
            digest.update(rel + md5hex)
        entries.append(entry)
    part = PathPart(key_dir, digest.hexdigest(), True, tuple(entries))
    return part, not entries


def add_path(
    real_path: str,
    key_path: str | None = None,
    *,
    context: ExclusionContext | None = None,
    framing: bool = False,
    stats: HashStats | None = None,
) -> PathPart | None:
    """Return the key part one source path contributes, or None when it contributes none.

    A non-directory excluded by `.dockerignore` contributes nothing. A directory
    contributes its hash unless nothing in it was hashed and the directory itself
    is excluded. Symbolic links are hashed as links, never followed.
    """
    key_path = key_path if key_path is not None else real_path
    try:
        st = os.lstat(real_path)
    except OSError as exc:
        raise HashInputError(real_path, exc.strerror or str(exc)) from exc

    excluded = context.excludes_file if context is not None else None
    if stat.S_ISDIR(st.st_mode):
        part, empty = directory_part(
            real_path, key_path,
            context_root=context.root if context is not None else "",
            excluded=excluded, framing=framing, stats=stats,
        )
        if empty and excluded is not None and excluded(key_path):
            return None
        return part

    if excluded is not None and excluded(key_path):
        return None
    entry = hash_entry(real_path, key_path=key_path, stats=stats, st=st)
    return PathPart(key_path, file_part_of(entry), False, (entry,))
