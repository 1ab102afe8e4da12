from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from cachelab.oci.errors import UnsafeLayerError
from cachelab.oci.extract import extract_layer

DIGEST = "sha256:" + "d" * 64


def entry(name: str, kind: str = "file", *, data: bytes = b"", link: str = "", mode: int = 0o644,
          uid: int = 0, mtime: int = 1_600_000_000, size: int | None = None,
          pax: dict[str, str] | None = None) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.uid = info.gid = uid
    info.mtime = mtime
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[kind]
    info.linkname = link
    info.size = len(data) if size is None else size
    if pax:
        info.pax_headers = pax
    return info, data


def make_tar(entries: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in entries:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def extract(entries: list[tuple[tarfile.TarInfo, bytes]], root: Path, compress: Callable[[bytes], bytes] = gzip.compress,
            **options: object):
    return extract_layer(io.BytesIO(compress(make_tar(entries))), root, layer_digest=DIGEST, **options)  # type: ignore[arg-type]


def snapshot(directory: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every path under `directory` with its mode and content or link target."""
    state: dict[str, tuple[int, bytes | str]] = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            state[str(path)] = (info.st_mode, os.readlink(path))
        elif path.is_file():
            state[str(path)] = (info.st_mode, path.read_bytes())
        else:
            state[str(path)] = (info.st_mode, "")
    return state


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """A root to extract into and a sibling `outside` directory that must never change."""
    root = tmp_path / "work" / "root"
    root.mkdir(parents=True)
    outside = tmp_path / "work" / "outside"
    outside.mkdir()
    (outside / "secret").write_text("do not touch")
    return root, outside


def test_extract_regular_tree(sandbox: tuple[Path, Path]) -> None:
    root, _ = sandbox
    stats = extract([
        entry("bin", "dir", mode=0o755),
        entry("bin/busybox", data=b"\x7fELF", mode=0o755),
        entry("bin/sh", "symlink", link="/bin/busybox"),
        entry("bin/ls", "hardlink", link="bin/busybox"),
        entry("tmp", "dir", mode=0o1777),
        entry("etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n", uid=1234),
        entry("run/fifo", "fifo", mode=0o600),
    ], root)

    assert stats.entries == 7
    assert (root / "bin/busybox").read_bytes() == b"\x7fELF"
    assert os.readlink(root / "bin/sh") == "/bin/busybox"
    assert (root / "bin/ls").stat().st_ino == (root / "bin/busybox").stat().st_ino
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    assert stat.S_IMODE((root / "bin/busybox").stat().st_mode) == 0o755
    assert (root / "bin/busybox").stat().st_mtime == 1_600_000_000
    assert (root / "tmp").stat().st_mtime == 1_600_000_000
    assert stat.S_ISFIFO((root / "run/fifo").lstat().st_mode)
    if os.geteuid() == 0:
        assert (root / "etc/passwd").stat().st_uid == 1234


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.ZstdCompressor().compress, lambda data: data],
                         ids=["gzip", "zstd", "none"])
def test_extract_each_compression(sandbox: tuple[Path, Path], compress: Callable[[bytes], bytes]) -> None:
    root, _ = sandbox
    extract([entry("a/b/c.txt", data=b"content")], root, compress)
    assert (root / "a/b/c.txt").read_bytes() == b"content"


def test_long_names_and_pax(sandbox: tuple[Path, Path]) -> None:
    root, _ = sandbox
    long_name = "/".join(["directory-name-of-some-length"] * 8) + "/file-" + "x" * 120
    extract([entry(long_name, data=b"deep"), entry("üñíçødé.txt", data=b"u")], root)
    assert (root / long_name).read_bytes() == b"deep"
    assert (root / "üñíçødé.txt").read_bytes() == b"u"


def test_whiteouts_remove_lower_entries(sandbox: tuple[Path, Path]) -> None:
    root, _ = sandbox
    extract([entry("a/file1", data=b"1"), entry("a/file2", data=b"2"), entry("b/x", data=b"x")], root)
    stats = extract([entry(".wh.b"), entry("a/.wh.file1")], root)

    assert stats.whiteouts == 2
    assert not (root / "b").exists()
    assert not (root / "a/file1").exists()
    assert (root / "a/file2").read_bytes() == b"2"
    assert not (root / ".wh.b").exists()


@pytest.mark.parametrize("marker_first", [True, False])
def test_opaque_whiteout_keeps_same_layer(sandbox: tuple[Path, Path], marker_first: bool) -> None:
    root, _ = sandbox
    extract([entry("d/old", data=b"old"), entry("d/sub/deep", data=b"deep")], root)
    layer = [entry("d/new", data=b"new")]
    marker = entry("d/.wh..wh..opq")
    extract([marker, *layer] if marker_first else [*layer, marker], root)

    assert sorted(p.name for p in (root / "d").iterdir()) == ["new"]


def test_file_replaces_symlink_without_following(sandbox: tuple[Path, Path]) -> None:
    root, outside = sandbox
    os.symlink(str(outside / "secret"), root / "f")
    before = snapshot(outside)

    extract([entry("f", data=b"replaced")], root)

    assert not (root / "f").is_symlink()
    assert (root / "f").read_bytes() == b"replaced"
    assert snapshot(outside) == before


def test_absolute_symlink_parent_stays_in_root(sandbox: tuple[Path, Path]) -> None:
    root, outside = sandbox
    before = snapshot(outside)
    extract([entry("etc", "dir"), entry("link", "symlink", link="/etc"), entry("link/conf", data=b"c")], root)
    assert (root / "etc/conf").read_bytes() == b"c"
    assert snapshot(outside) == before


def test_xattrs_restored_when_supported(sandbox: tuple[Path, Path]) -> None:
    root, _ = sandbox
    probe = root / "probe"
    probe.write_text("")
    try:
        os.setxattr(probe, "user.cachelab", b"1")
    except OSError:
        pytest.skip("the temporary directory's filesystem has no user xattrs")
    extract([entry("x", data=b"x", pax={"SCHILY.xattr.user.origin": "layer"})], root)
    assert os.getxattr(root / "x", "user.origin") == b"layer"


MALICIOUS: list[tuple[str, list[tuple[tarfile.TarInfo, bytes]], str, str]] = [
    ("traversal", [entry("../outside/evil", data=b"x")], "../outside/evil", ".."),
    ("nested traversal", [entry("a/../../outside/evil", data=b"x")], "a/../../outside/evil", ".."),
    ("absolute path", [entry("/tmp/evil", data=b"x")], "/tmp/evil", "absolute"),
    ("symlink escape", [entry("link", "symlink", link="../../outside")], "link", "outside the root"),
    ("deep symlink escape", [entry("a/b/link", "symlink", link="../../../outside/secret")], "a/b/link",
     "outside the root"),
    ("hard link escape", [entry("h", "hardlink", link="../outside/secret")], "h", "'..'"),
    ("absolute hard link", [entry("h", "hardlink", link="/etc/passwd")], "h", "absolute"),
    ("hard link to nothing", [entry("h", "hardlink", link="missing")], "h", "does not exist"),
    ("device node", [entry("dev/evil", "chr")], "dev/evil", "device"),
    ("symlink loop", [entry("a", "symlink", link="b"), entry("b", "symlink", link="a"),
                      entry("a/x", data=b"x")], "a/x", "too many levels"),
]


@pytest.mark.parametrize(("case", "entries", "bad_entry", "reason"), MALICIOUS, ids=[c[0] for c in MALICIOUS])
def test_malicious_layer_rejected(sandbox: tuple[Path, Path], case: str, entries: list, bad_entry: str,
                                  reason: str) -> None:
    root, outside = sandbox
    before = snapshot(outside)

    with pytest.raises(UnsafeLayerError) as caught:
        extract(entries, root, allow_devices=False)

    assert caught.value.layer_digest == DIGEST
    assert caught.value.entry == bad_entry
    assert reason in caught.value.reason
    assert snapshot(outside) == before


def test_existing_escaping_symlink_not_followed(sandbox: tuple[Path, Path]) -> None:
    # A RUN step can leave such a link in the rootfs; a later layer writes through it.
    root, outside = sandbox
    os.symlink("../outside", root / "esc")
    before = snapshot(outside)

    with pytest.raises(UnsafeLayerError) as caught:
        extract([entry("esc/evil", data=b"x")], root)

    assert caught.value.entry == "esc/evil"
    assert snapshot(outside) == before


def test_symlink_from_earlier_layer_then_file(sandbox: tuple[Path, Path]) -> None:
    root, outside = sandbox
    before = snapshot(outside)
    extract([entry("d", "symlink", link="/")], root)

    extract([entry("d/evil", data=b"x")], root)

    assert (root / "evil").read_bytes() == b"x"
    assert snapshot(outside) == before


def test_entry_larger_than_limit_rejected(sandbox: tuple[Path, Path]) -> None:
    root, _ = sandbox
    with pytest.raises(UnsafeLayerError) as caught:
        extract([entry("bomb", data=bytes(4 << 20))], root, max_size=1 << 20)
    assert "exceeds" in caught.value.reason
    assert not (root / "bomb").exists()


def test_total_size_limit_rejected(sandbox: tuple[Path, Path]) -> None:
    root, _ = sandbox
    files = [entry(f"part{i}", data=bytes(300_000)) for i in range(10)]
    with pytest.raises(UnsafeLayerError) as caught:
        extract(files, root, max_size=1 << 20)
    assert "limit" in caught.value.reason
    total = sum(p.stat().st_size for p in root.iterdir())
    assert total <= 1 << 20


def test_device_allowed_as_root(sandbox: tuple[Path, Path]) -> None:
    if os.geteuid() != 0:
        pytest.skip("creating device nodes needs root")
    root, _ = sandbox
    info, data = entry("dev/null", "chr", mode=0o666)
    info.devmajor, info.devminor = 1, 3
    extract([(info, data)], root, allow_devices=True)
    assert stat.S_ISCHR((root / "dev/null").lstat().st_mode)


def test_corrupted_blob_fails_digest_check(sandbox: tuple[Path, Path]) -> None:
    from cachelab.oci._files import VerifyingReader
    from cachelab.oci.errors import DigestMismatch

    root, _ = sandbox
    blob = gzip.compress(make_tar([entry("a", data=b"payload")]))
    claimed = "sha256:" + "0" * 64
    with pytest.raises(DigestMismatch):
        extract_layer(VerifyingReader(io.BytesIO(blob), claimed, where="test blob"), root,  # type: ignore[arg-type]
                      layer_digest=claimed)


def test_large_member_count_streams(sandbox: tuple[Path, Path]) -> None:
    root, _ = sandbox
    files = [entry(f"d{i % 10}/f{i}", data=str(i).encode()) for i in range(1000)]
    stats = extract(files, root)
    assert stats.entries == 1000
    assert (root / "d7/f997").read_bytes() == b"997"


def test_directory_replaced_by_symlink_later(sandbox: tuple[Path, Path]) -> None:
    # The directory's mode and mtime are applied at the end; by then `a` leads
    # outside the root, so following it would chmod the host's `outside`.
    root, outside = sandbox
    link_target = str(outside.parent)
    before = snapshot(outside)
    mode_before = outside.stat().st_mode

    extract([entry("a/outside", "dir", mode=0o700, mtime=5), entry("a", "symlink", link=link_target)], root)

    assert os.readlink(root / "a") == link_target
    assert outside.stat().st_mode == mode_before
    assert outside.stat().st_mtime != 5
    assert snapshot(outside) == before
