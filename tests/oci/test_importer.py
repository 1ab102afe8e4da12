from __future__ import annotations

import json
import stat
import tarfile
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.oci.busybox import busybox_applets
from cachelab.oci.image import ImageResolver
from cachelab.oci.importer import import_rootfs
from cachelab.oci.layout import LayoutStore


def test_busybox_rootfs_layout(busybox_rootfs_dir: Path) -> None:
    root = busybox_rootfs_dir
    assert (root / "bin/busybox").stat().st_mode & stat.S_IXUSR
    assert (root / "bin/sh").is_symlink()
    assert (root / "bin/sh").resolve() == (root / "bin/busybox").resolve()
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    assert (root / "etc/passwd").read_text().startswith("root:x:0:0:")
    assert "root:x:0:" in (root / "etc/group").read_text()
    for applet in busybox_applets():
        assert (root / "bin" / applet).exists()


def test_import_directory_layer_entries(busybox_rootfs_dir: Path, tmp_path: Path) -> None:
    reference = f"oci:{tmp_path}/store:bb"
    result = import_rootfs(busybox_rootfs_dir, reference)
    image = ImageResolver().image(reference)

    [layer] = image.layers()
    assert layer.digest == result.layer.digest
    with layer.open_uncompressed() as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
        members = {member.name: member for member in archive}
    assert members["bin/sh"].issym()
    assert members["bin/sh"].linkname == "busybox"
    assert members["tmp"].mode & 0o7777 == 0o1777
    assert all(member.uid == 0 and member.gid == 0 for member in members.values())
    assert image.config_json["config"]["Cmd"] == ["sh"]


def test_import_is_reproducible(busybox_rootfs_dir: Path, tmp_path: Path) -> None:
    first = import_rootfs(busybox_rootfs_dir, f"oci:{tmp_path}/a:x")
    second = import_rootfs(busybox_rootfs_dir, f"oci:{tmp_path}/b:x")
    assert first.manifest_digest == second.manifest_digest


def test_import_tarball(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "file").write_text("from a tarball")
    tarball = tmp_path / "rootfs.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(source / "file", "file")

    import_rootfs(tarball, f"oci:{tmp_path}/store:t", compression="zstd")

    image = ImageResolver().image(f"oci:{tmp_path}/store:t")
    with image.layers()[0].open_uncompressed() as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
        assert [member.name for member in archive] == ["file"]


def test_cli_image_import_and_store_check(busybox_rootfs_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    assert main(["image", "import", str(busybox_rootfs_dir), f"oci:{store}:busybox"]) == 0
    assert f"oci:{store}:busybox sha256:" in capsys.readouterr().out

    assert main(["store", "check", str(store)]) == 0
    assert "ok (1 tags)" in capsys.readouterr().out

    index = json.loads((store / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"]
    LayoutStore(store).blob_path(manifest_digest).write_bytes(b"{}")
    assert main(["store", "check", str(store)]) == 1
    assert "hashes to" in capsys.readouterr().out


def test_cli_import_missing_rootfs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "import", str(tmp_path / "absent"), f"oci:{tmp_path}/s:x"]) == 1
    assert "absent" in capsys.readouterr().err


def test_cli_invalid_reference(busybox_rootfs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "import", str(busybox_rootfs_dir), "Not/Valid:tag with space"]) == 1
    err = capsys.readouterr().err
    assert "invalid reference" in err
    assert "hint:" in err


@pytest.mark.registry
def test_cli_image_busybox_to_registry(registry, capsys: pytest.CaptureFixture[str]) -> None:
    reference = f"{registry.address}/cli/busybox:1"
    assert main(["image", "busybox", reference]) == 0
    assert reference in capsys.readouterr().out
    resolver = ImageResolver()
    resolved = resolver.resolve(reference)
    resolver.close()
    assert json.loads(resolved.config)["config"]["Cmd"] == ["sh"]


def test_directory_layer_round_trip(tmp_path: Path) -> None:
    import os

    from cachelab.oci.extract import extract_layer
    from cachelab.oci.layers import write_directory_layer

    source = tmp_path / "src"
    (source / "dir").mkdir(parents=True)
    (source / "dir/file").write_text("content")
    os.link(source / "dir/file", source / "dir/hardlink")
    os.symlink("dir/file", source / "symlink")
    (source / "dir/file").chmod(0o640)
    try:
        os.setxattr(source / "dir/file", "user.origin", b"test")
        has_xattrs = True
    except OSError:
        has_xattrs = False

    layer = write_directory_layer(source, "zstd", directory=tmp_path)
    with open(layer.path, "rb") as blob:
        extract_layer(blob, tmp_path / "out", layer_digest=layer.digest)

    out = tmp_path / "out"
    assert (out / "dir/file").read_text() == "content"
    assert (out / "dir/hardlink").stat().st_ino == (out / "dir/file").stat().st_ino
    assert os.readlink(out / "symlink") == "dir/file"
    assert stat.S_IMODE((out / "dir/file").stat().st_mode) == 0o640
    if has_xattrs:
        assert os.getxattr(out / "dir/file", "user.origin") == b"test"
