"""Entry, file and directory hashing as kaniko feeds files into cache keys."""

from __future__ import annotations

import hashlib
import os
import select
import signal
import stat
from pathlib import Path

import pytest

from cachelab.keys.errors import HashInputError
from cachelab.keys.filehash import (
    HashStats,
    add_path,
    base36,
    directory_part,
    entry_hash,
    file_part,
    go_file_mode_string,
    owner_string,
    walk_dir,
)
from tests.keys.trees import needs_root

pytestmark = needs_root


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("st_mode", "expected"),
    [
        (stat.S_IFREG | 0o644, "-rw-r--r--"),
        (stat.S_IFREG | 0o000, "----------"),
        (stat.S_IFDIR | 0o755, "drwxr-xr-x"),
        (stat.S_IFLNK | 0o777, "Lrwxrwxrwx"),
        (stat.S_IFREG | stat.S_ISUID | 0o755, "urwxr-xr-x"),
        (stat.S_IFREG | stat.S_ISGID | 0o755, "grwxr-xr-x"),
        (stat.S_IFREG | stat.S_ISUID | stat.S_ISGID | 0o755, "ugrwxr-xr-x"),
        (stat.S_IFDIR | stat.S_ISVTX | 0o777, "dtrwxrwxrwx"),
        (stat.S_IFDIR | stat.S_ISGID | 0o2775 & 0o777, "dgrwxrwxr-x"),
        (stat.S_IFCHR | 0o666, "Dcrw-rw-rw-"),
        (stat.S_IFBLK | 0o660, "Drw-rw----"),
        (stat.S_IFIFO | 0o644, "prw-r--r--"),
        (stat.S_IFSOCK | 0o755, "Srwxr-xr-x"),
    ],
)
def test_go_file_mode_string(st_mode, expected):
    assert go_file_mode_string(st_mode) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [(0, "0"), (1, "1"), (35, "z"), (36, "10"), (1000, "rs"), (65534, "1eke"), (2**32 - 1, "1z141z3")],
)
def test_base36(number, expected):
    assert base36(number) == expected


def test_owner_string_root_and_user():
    assert owner_string(0, 0) == "0,0"
    assert owner_string(1000, 100) == "rs,2s"


def test_entry_hash_regular_file(tmp_path: Path):
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello\n")
    path.chmod(0o644)
    os.chown(path, 0, 0)

    assert entry_hash(str(path)) == "3796735f6017f2c65d88fd62f1bd7366"
    assert file_part(str(path)) == sha_hex(b"3796735f6017f2c65d88fd62f1bd7366")


def test_entry_hash_owner_in_base36(tmp_path: Path):
    path = tmp_path / "owned"
    path.write_bytes(b"x")
    path.chmod(0o600)
    os.chown(path, 1000, 1000)

    assert entry_hash(str(path)) == md5_hex(b"-rw-------rs,rsx")


def test_entry_hash_symlink_target_not_followed(tmp_path: Path):
    (tmp_path / "target").write_bytes(b"content")
    link = tmp_path / "link"
    link.symlink_to("target")
    os.lchown(link, 0, 0)

    assert entry_hash(str(link)) == md5_hex(b"Lrwxrwxrwx0,0target")


def test_entry_hash_dangling_symlink(tmp_path: Path):
    link = tmp_path / "dangling"
    link.symlink_to("/nonexistent/elsewhere")
    os.lchown(link, 0, 0)

    assert entry_hash(str(link)) == md5_hex(b"Lrwxrwxrwx0,0/nonexistent/elsewhere")


def test_entry_hash_directory_has_no_content(tmp_path: Path):
    directory = tmp_path / "d"
    directory.mkdir()
    directory.chmod(0o1777)
    os.chown(directory, 0, 0)

    assert entry_hash(str(directory)) == md5_hex(b"dtrwxrwxrwx0,0")


def test_entry_hash_fifo(tmp_path: Path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o644)
    fifo.chmod(0o644)
    os.chown(fifo, 0, 0)

    assert entry_hash(str(fifo)) == md5_hex(b"prw-r--r--0,0")


def test_entry_hash_large_file_streams_in_chunks(tmp_path: Path):
    data = os.urandom(3 * (1 << 20) + 17)
    path = tmp_path / "big"
    path.write_bytes(data)
    path.chmod(0o644)
    os.chown(path, 0, 0)
    stats = HashStats()

    assert entry_hash(str(path), stats=stats) == md5_hex(b"-rw-r--r--0,0" + data)
    assert stats.files_hashed == 1
    assert stats.bytes_hashed == len(data)


def test_entry_hash_ignores_mtime(tmp_path: Path):
    path = tmp_path / "f"
    path.write_bytes(b"same")
    before = entry_hash(str(path))

    os.utime(path, (1, 1))

    assert entry_hash(str(path)) == before


def test_entry_hash_missing_path(tmp_path: Path):
    with pytest.raises(HashInputError, match="cannot hash .*missing"):
        entry_hash(str(tmp_path / "missing"))


def make_tree(root: Path) -> None:
    # Names chosen so byte-wise order differs from case-insensitive order and from
    # "directories first": B < a < a.txt < a0 < b, and `a`'s children come before `a.txt`.
    (root / "a").mkdir()
    (root / "a" / "z").write_bytes(b"z")
    (root / "a" / "inner").mkdir()
    (root / "a.txt").write_bytes(b"dot")
    (root / "a0").write_bytes(b"zero")
    (root / "B").write_bytes(b"upper")
    (root / "b").symlink_to("a")
    for path in [root, *root.rglob("*")]:
        os.lchown(path, 0, 0)
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_walk_dir_go_order(tmp_path: Path):
    make_tree(tmp_path)

    suffixes = [suffix for _, suffix, _ in walk_dir(str(tmp_path))]

    assert suffixes == ["", "/B", "/a", "/a/inner", "/a/z", "/a.txt", "/a0", "/b"]


def expected_dir_hash(entries: list[tuple[str, bytes]], framing: bool) -> str:
    digest = hashlib.sha256()
    for rel, md5 in entries:
        if framing:
            digest.update(f"{len(rel)}:{rel}{len(md5)}:".encode() + md5)
        else:
            digest.update(rel.encode() + md5)
    return digest.hexdigest()


def tree_entries(rel_prefix: str) -> list[tuple[str, bytes]]:
    return [
        (rel_prefix, md5_hex(b"drwxr-xr-x0,0").encode()),
        (rel_prefix + "/B", md5_hex(b"-rw-r--r--0,0upper").encode()),
        (rel_prefix + "/a", md5_hex(b"drwxr-xr-x0,0").encode()),
        (rel_prefix + "/a/inner", md5_hex(b"drwxr-xr-x0,0").encode()),
        (rel_prefix + "/a/z", md5_hex(b"-rw-r--r--0,0z").encode()),
        (rel_prefix + "/a.txt", md5_hex(b"-rw-r--r--0,0dot").encode()),
        (rel_prefix + "/a0", md5_hex(b"-rw-r--r--0,0zero").encode()),
        (rel_prefix + "/b", md5_hex(b"Lrwxrwxrwx0,0a").encode()),
    ]


@pytest.mark.parametrize("framing", [False, True])
def test_directory_part_relative_to_context(tmp_path: Path, framing: bool):
    context = tmp_path / "ctx"
    source = context / "src"
    source.mkdir(parents=True)
    make_tree(source)
    stats = HashStats()

    part, empty = directory_part(
        str(source), context_root=str(context), framing=framing, stats=stats
    )

    assert not empty
    assert part.value == expected_dir_hash(tree_entries("/src"), framing)
    assert stats.files_hashed == 8
    assert stats.bytes_hashed == len(b"upperzdotzero")


def test_directory_part_context_root_itself_has_empty_rel(tmp_path: Path):
    make_tree(tmp_path)

    part, _ = directory_part(str(tmp_path), context_root=str(tmp_path))

    assert part.value == expected_dir_hash(tree_entries(""), False)


def test_directory_part_virtual_deps_path(tmp_path: Path):
    # A COPY --from source is read from a real directory but hashed under the
    # path kaniko uses, which lies outside the context and stays absolute.
    stage_root = tmp_path / "stage"
    stage_root.mkdir()
    make_tree(stage_root)

    part, _ = directory_part(
        str(stage_root), "/kaniko/deps/1/app", context_root=str(tmp_path / "ctx")
    )

    assert part.value == expected_dir_hash(tree_entries("/kaniko/deps/1/app"), False)
    assert part.entries[1].path == "/kaniko/deps/1/app/B"


def test_framing_changes_directory_hash(tmp_path: Path):
    make_tree(tmp_path)

    framed, _ = directory_part(str(tmp_path), context_root=str(tmp_path), framing=True)
    plain, _ = directory_part(str(tmp_path), context_root=str(tmp_path), framing=False)

    assert framed.value != plain.value


def test_rename_inside_directory_changes_hash(tmp_path: Path):
    make_tree(tmp_path)
    before, _ = directory_part(str(tmp_path), context_root=str(tmp_path))

    (tmp_path / "a0").rename(tmp_path / "a1")
    after, _ = directory_part(str(tmp_path), context_root=str(tmp_path))

    assert before.value != after.value


class FakeContext:
    def __init__(self, root: str, excluded: set[str]) -> None:
        self.root = root
        self.excluded = excluded

    def excludes_file(self, path: str) -> bool:
        return path in self.excluded


def test_add_path_excluded_file_gives_no_part(tmp_path: Path):
    (tmp_path / "f").write_bytes(b"x")
    context = FakeContext(str(tmp_path), {str(tmp_path / "f")})

    assert add_path(str(tmp_path / "f"), context=context) is None


def test_add_path_excluded_directory_children_still_hashed(tmp_path: Path):
    make_tree(tmp_path)
    a_dir = str(tmp_path / "a")
    context = FakeContext(str(tmp_path), {a_dir})

    part = add_path(a_dir, context=context)

    assert part is not None
    assert [entry.path for entry in part.entries] == [a_dir + "/inner", a_dir + "/z"]
    expected = expected_dir_hash(
        [("/a/inner", md5_hex(b"drwxr-xr-x0,0").encode()),
         ("/a/z", md5_hex(b"-rw-r--r--0,0z").encode())],
        False,
    )
    assert part.value == expected


def test_add_path_fully_excluded_directory_gives_no_part(tmp_path: Path):
    make_tree(tmp_path)
    a_dir = str(tmp_path / "a")
    context = FakeContext(str(tmp_path), {a_dir, a_dir + "/inner", a_dir + "/z"})

    assert add_path(a_dir, context=context) is None


def test_add_path_empty_directory_contributes(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    empty.chmod(0o755)
    os.chown(empty, 0, 0)

    part = add_path(str(empty), context=FakeContext(str(tmp_path), set()))

    assert part is not None
    assert part.value == sha_hex(b"/empty" + md5_hex(b"drwxr-xr-x0,0").encode())


def test_add_path_children_excluded_but_dir_kept(tmp_path: Path):
    make_tree(tmp_path)
    a_dir = str(tmp_path / "a")
    context = FakeContext(str(tmp_path), {a_dir + "/inner", a_dir + "/z"})

    part = add_path(a_dir, context=context)

    assert part is not None
    assert part.value == sha_hex(b"/a" + md5_hex(b"drwxr-xr-x0,0").encode())


def test_add_path_symlink_to_directory_hashed_as_link(tmp_path: Path):
    make_tree(tmp_path)

    part = add_path(str(tmp_path / "b"))

    assert part is not None
    assert not part.is_dir
    assert part.value == sha_hex(md5_hex(b"Lrwxrwxrwx0,0a").encode())


def test_add_path_missing_source(tmp_path: Path):
    with pytest.raises(HashInputError):
        add_path(str(tmp_path / "nope"))


def test_parallel_and_serial_hashing_agree(tmp_path: Path):
    for index in range(20):
        (tmp_path / f"big{index:02d}").write_bytes(bytes([index]) * (64 * 1024 + index))
    serial_stats, parallel_stats = HashStats(), HashStats()

    serial, _ = directory_part(str(tmp_path), context_root=str(tmp_path), parallel=False,
                               stats=serial_stats)
    parallel, _ = directory_part(str(tmp_path), context_root=str(tmp_path), parallel=True,
                                 stats=parallel_stats)

    assert parallel.value == serial.value
    assert [entry.path for entry in parallel.entries] == [entry.path for entry in serial.entries]
    assert parallel_stats == serial_stats


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_parallel_hashing_in_forked_child(tmp_path: Path):
    (tmp_path / "big").write_bytes(b"x" * (128 * 1024))
    expected, _ = directory_part(str(tmp_path), context_root=str(tmp_path))
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # child: hash again with the inherited module state
        os.close(read_end)
        part, _ = directory_part(str(tmp_path), context_root=str(tmp_path))
        os.write(write_end, part.value.encode())
        os._exit(0)
    os.close(write_end)
    # A child stuck on the parent's dead worker threads never answers; give up
    # after a generous wait instead of hanging the suite.
    ready, _, _ = select.select([read_end], [], [], 60)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    with os.fdopen(read_end, "rb") as stream:
        child_value = stream.read().decode() if ready else ""
    _, status = os.waitpid(pid, 0)

    assert ready, "the forked child did not finish hashing"
    assert status == 0
    assert child_value == expected.value
