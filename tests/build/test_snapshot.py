"""Snapshots: the layer tar of the changes in a root, checked member by member."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import time
from pathlib import Path

import pytest

from cachelab.build.fsstate import scan
from cachelab.build.snapshot import OPAQUE_MARKER, Snapshotter, diff_states
from cachelab.oci.layers import LayerWriter


def _members(path: str) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as tar:
        return {member.name: member for member in tar.getmembers()}


def _names(path: str) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def _bump(path: Path) -> None:
    # Make a change visible even on file systems with coarse timestamps.
    later = time.time() + 10
    os.utime(path, (later, later), follow_symlinks=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "root"
    (base / "etc").mkdir(parents=True)
    (base / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (base / "var" / "lib" / "pkg").mkdir(parents=True)
    (base / "var" / "lib" / "pkg" / "a").write_text("a")
    (base / "var" / "lib" / "pkg" / "b").write_text("b")
    (base / "keep").write_text("keep")
    return base


def test_no_change_gives_empty_tar(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    assert snapshot.changes.empty
    assert _names(snapshot.path) == []
    data = Path(snapshot.path).read_bytes()
    assert data == b"\0" * 1024
    # The diff_id every image tool gives an empty layer.
    assert hashlib.sha256(data).hexdigest() == (
        "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    )


def test_added_file_and_parent_dir(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    (root / "opt" / "app").mkdir(parents=True)
    (root / "opt" / "app" / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "opt" / "app" / "run.sh", 0o750)

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    assert _names(snapshot.path) == ["opt", "opt/app", "opt/app/run.sh"]
    member = _members(snapshot.path)["opt/app/run.sh"]
    assert member.isreg()
    assert member.mode == 0o750
    assert member.size == len("#!/bin/sh\n")
    assert member.mtime == int(os.lstat(root / "opt" / "app" / "run.sh").st_mtime)
    with tarfile.open(snapshot.path) as tar:
        assert tar.extractfile("opt/app/run.sh").read() == b"#!/bin/sh\n"  # type: ignore[union-attr]


def test_modified_file_includes_parent(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    (root / "etc" / "hosts").write_text("changed\n")
    _bump(root / "etc" / "hosts")

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    assert snapshot.changes.modified == ("etc/hosts",)
    assert _names(snapshot.path) == ["etc/hosts"]


def test_deleted_file_is_whiteout(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    (root / "keep").unlink()
    (root / "var" / "lib" / "pkg" / "a").unlink()

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    names = _names(snapshot.path)
    assert ".wh.keep" in names
    assert "var/lib/pkg/.wh.a" in names
    assert "var/lib/pkg" in names  # its mtime changed
    assert "var/lib/pkg/b" not in names


def test_deleted_dir_is_one_whiteout(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    shutil.rmtree(root / "var" / "lib" / "pkg")

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    names = _names(snapshot.path)
    assert "var/lib/.wh.pkg" in names
    assert not [name for name in names if name.startswith("var/lib/pkg")]


def test_replaced_dir_is_opaque(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    # The new directory exists before the old one goes, so its inode differs.
    (root / "var" / "lib" / "pkg.new").mkdir()
    (root / "var" / "lib" / "pkg.new" / "c").write_text("c")
    shutil.rmtree(root / "var" / "lib" / "pkg")
    os.rename(root / "var" / "lib" / "pkg.new", root / "var" / "lib" / "pkg")

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    names = _names(snapshot.path)
    position = names.index("var/lib/pkg")
    assert names[position + 1] == f"var/lib/pkg/{OPAQUE_MARKER}"
    assert "var/lib/pkg/c" in names
    assert "var/lib/pkg/.wh.a" not in names


def test_file_replaced_by_dir(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    (root / "keep").unlink()
    (root / "keep").mkdir()

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    names = _names(snapshot.path)
    assert names.index(".wh.keep") < names.index("keep")
    assert _members(snapshot.path)["keep"].isdir()


def test_symlink_and_hard_link(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    os.symlink("../etc/hosts", root / "var" / "hosts-link")
    (root / "data").write_text("shared")
    os.link(root / "data", root / "data-link")
    os.link(root / "keep", root / "keep-link")  # its first name is in a lower layer

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    members = _members(snapshot.path)
    assert members["var/hosts-link"].issym()
    assert members["var/hosts-link"].linkname == "../etc/hosts"
    assert members["data"].isreg()
    assert members["data-link"].islnk()
    assert members["data-link"].linkname == "data"
    # `keep` changed too (its link count), so it is written and `keep-link` links to it.
    assert members["keep"].isreg()
    assert members["keep-link"].islnk()
    assert members["keep-link"].linkname == "keep"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to other ids needs root")
def test_owner_and_mode_in_header(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    (root / "owned").write_text("x")
    os.chown(root / "owned", 1000, 50)
    os.chmod(root / "owned", 0o4755)

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    member = _members(snapshot.path)["owned"]
    assert (member.uid, member.gid) == (1000, 50)
    assert member.mode == 0o4755
    assert (member.uname, member.gname) == ("", "")


def test_owner_side_table_overrides(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    (root / "copied").write_text("x")
    snapshotter.record_owner("/copied", 1234, 5678)

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    member = _members(snapshot.path)["copied"]
    assert (member.uid, member.gid) == (1234, 5678)


def test_same_tree_same_bytes(tmp_path: Path) -> None:
    layers = []
    for index in range(2):
        base = tmp_path / f"root{index}"
        base.mkdir()
        snapshotter = Snapshotter(str(base))
        for name in ("b", "a", "c"):
            (base / "dir").mkdir(exist_ok=True)
            (base / "dir" / name).write_text(name * 100)
            os.utime(base / "dir" / name, (1_700_000_000, 1_700_000_000))
        os.symlink("dir/a", base / "link")
        os.utime(base / "dir", (1_700_000_000, 1_700_000_000))
        os.utime(base / "link", (1_700_000_000, 1_700_000_000), follow_symlinks=False)
        layers.append(snapshotter.take(tmp_path / f"layer{index}.tar").path)

    assert Path(layers[0]).read_bytes() == Path(layers[1]).read_bytes()
    assert _names(layers[0]) == ["dir", "dir/a", "dir/b", "dir/c", "link"]


def test_pax_format_long_names(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    deep = root / ("d" * 120) / ("n" * 120)
    deep.mkdir(parents=True)
    (deep / "f").write_text("x")

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    with tarfile.open(snapshot.path) as tar:
        assert tar.format == tarfile.PAX_FORMAT or any(m.pax_headers for m in tar.getmembers())
        assert f"{'d' * 120}/{'n' * 120}/f" in tar.getnames()


def test_empty_baseline_takes_everything(root: Path, tmp_path: Path) -> None:
    snapshot = Snapshotter(str(root), state={}).take(tmp_path / "layer.tar")

    assert _names(snapshot.path) == [
        "etc", "etc/hosts", "keep", "var", "var/lib", "var/lib/pkg", "var/lib/pkg/a", "var/lib/pkg/b",
    ]


def test_second_snapshot_sees_only_new_changes(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    (root / "one").write_text("1")
    snapshotter.take(tmp_path / "first.tar")
    (root / "two").write_text("2")

    second = snapshotter.take(tmp_path / "second.tar")

    assert _names(second.path) == ["two"]


def test_fast_path_takes_only_touched(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    (root / "app" / "src").mkdir(parents=True)
    (root / "app" / "src" / "main.py").write_text("print()")
    (root / "untracked").write_text("outside the touched paths")

    snapshot = snapshotter.take_paths(["/app/src"], tmp_path / "layer.tar")

    assert _names(snapshot.path) == ["app", "app/src", "app/src/main.py"]
    later = snapshotter.take(tmp_path / "later.tar")
    assert _names(later.path) == ["untracked"]


def test_fast_path_existing_parent_unchanged(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    (root / "etc" / "app.conf").write_text("x")

    snapshot = snapshotter.take_paths(["/etc/app.conf"], tmp_path / "layer.tar")

    # `etc` gained an entry, so its mtime changed and it is part of the layer.
    assert _names(snapshot.path) == ["etc", "etc/app.conf"]


def test_proc_and_dev_are_ignored(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    (root / "proc").mkdir()
    (root / "dev").mkdir()
    (root / "dev" / "null-ish").write_text("")

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    assert _names(snapshot.path) == []


def test_diff_states_fifo_and_retype(tmp_path: Path) -> None:
    base = tmp_path / "r"
    base.mkdir()
    (base / "x").mkdir()
    (base / "x" / "inner").write_text("i")
    before = scan(base)
    shutil.rmtree(base / "x")
    (base / "x").write_text("now a file")
    os.mkfifo(base / "pipe")

    changes = diff_states(before, scan(base))

    assert changes.retyped == ("x",)
    assert changes.deleted == ()  # the new file hides x/inner
    assert changes.added == ("pipe",)


def test_fifo_written_as_fifo(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    os.mkfifo(root / "pipe")

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    assert _members(snapshot.path)["pipe"].isfifo()


@pytest.mark.sandbox
def test_run_changes_become_layer(busybox_root: Path, tmp_path: Path) -> None:
    if shutil.which("bwrap") is None and os.geteuid() != 0:
        pytest.skip("no sandbox backend on this machine")
    from cachelab.build.sandbox import RunRequest, Sandbox

    snapshotter = Snapshotter(str(busybox_root))
    request = RunRequest(
        argv=("/bin/sh", "-c", "rm /etc/group && mkdir -p /opt/x && echo hi > /opt/x/f && ln -s f /opt/x/l"),
        env=("PATH=/bin",),
    )
    result = Sandbox().run(busybox_root, request)
    assert result.exit_code == 0, result.output_tail

    layer = snapshotter.take(tmp_path / "layer.tar")

    names = _names(layer.path)
    assert "etc/.wh.group" in names
    assert ["opt", "opt/x", "opt/x/f", "opt/x/l"] == [name for name in names if name.startswith("opt")]
    assert not [name for name in names if name.startswith(("proc", "dev"))]


def test_file_capability_kept(root: Path, tmp_path: Path) -> None:
    snapshotter = Snapshotter(str(root))
    binary = root / "ping"
    binary.write_text("binary")
    # VFS_CAP_REVISION_2 with the effective bit, permitting CAP_NET_RAW (bit 13).
    capability = bytes.fromhex("01000002") + (1 << 13).to_bytes(4, "little") + bytes(12)
    try:
        os.setxattr(binary, "security.capability", capability)
    except OSError as exc:
        pytest.skip(f"cannot set file capabilities here: {exc}")
    try:
        os.setxattr(binary, "user.comment", b"dropped")
    except OSError:
        pass  # some file systems have no user xattrs; the capability is what counts

    snapshot = snapshotter.take(tmp_path / "layer.tar")

    member = _members(snapshot.path)["ping"]
    value = member.pax_headers["SCHILY.xattr.security.capability"]
    assert value.encode("utf-8", "surrogateescape") == capability
    assert "SCHILY.xattr.user.comment" not in member.pax_headers


def test_stream_tar_matches_file_tar(root: Path, tmp_path: Path) -> None:
    # Two identical roots, one snapshot written to a path and one into a LayerWriter.
    twin = tmp_path / "twin"
    shutil.copytree(root, twin, symlinks=True)
    for base in (root, twin):
        (base / "big").write_bytes(bytes(range(256)) * 12_000)  # 3 MB: the writer's threaded path
        (base / "etc" / "hosts").unlink()
        # The edits of the two roots may fall in different seconds, and tar headers
        # carry mtimes, so both roots get the same ones.
        for path in [base, *base.rglob("*")]:
            os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    on_disk = Snapshotter(str(root), state={}).take(tmp_path / "layer.tar")

    with LayerWriter("gzip", directory=tmp_path) as writer:
        streamed = Snapshotter(str(twin), state={}).take(writer)
        layer = writer.finish()

    tar = Path(on_disk.path).read_bytes()
    assert streamed.path is None
    assert streamed.size == len(tar) == on_disk.size
    assert streamed.entries == on_disk.entries
    assert tar.endswith(b"\0" * 1024)
    assert len(tar) % 512 == 0
    assert layer.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()
    assert gzip.decompress(Path(layer.path).read_bytes()) == tar


def test_stream_empty_layer_is_1024_zeros(root: Path, tmp_path: Path) -> None:
    with LayerWriter("gzip", directory=tmp_path) as writer:
        snapshot = Snapshotter(str(root)).take(writer)
        layer = writer.finish()

    assert snapshot.size == 1024
    assert layer.diff_id == "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
