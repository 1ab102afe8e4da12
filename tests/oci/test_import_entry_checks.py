"""Hostile tar entries: rejected at `image import`, and named with their image when extracted."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.oci import importer
from cachelab.oci.entry_check import check_layer_entries
from cachelab.oci.errors import UnsafeLayerError
from cachelab.oci.image import ImageResolver
from cachelab.oci.importer import import_rootfs
from cachelab.oci.unpack import unpack_image

Entry = tuple[str, str, str]  # kind ("file", "dir", "symlink", "hardlink"), name, link target


def write_tar(path: Path, entries: list[Entry]) -> Path:
    with tarfile.open(path, "w") as archive:
        for kind, name, target in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = 2
                archive.addfile(info, io.BytesIO(b"hi"))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
            info.linkname = target
            archive.addfile(info)
    return path


HOSTILE: list[tuple[str, list[Entry], str, str]] = [
    ("dot-dot", [("file", "../escape", "")], "../escape", "path contains '..'"),
    ("absolute", [("file", "/etc/passwd", "")], "/etc/passwd", "absolute path"),
    ("symlink-climbs", [("dir", "etc", ""), ("symlink", "etc/up", "../../x")], "etc/up",
     "symlink target '../../x' leads outside the root"),
    ("path-through-symlink", [("symlink", "root", "/.."), ("file", "root/x", "")], "root/x",
     "a symlink on its path leads outside the root"),
    ("symlink-loop", [("symlink", "a", "b"), ("symlink", "b", "a"), ("file", "a/x", "")], "a/x",
     "too many levels of symlinks on its path"),
    ("hardlink-escapes", [("hardlink", "h", "../etc/passwd")], "h",
     "hard link target '../etc/passwd' is absolute or contains '..'"),
    ("hardlink-missing", [("hardlink", "h", "nothing")], "h", "hard link target 'nothing' does not exist"),
]


@pytest.mark.parametrize(("entries", "entry", "reason"), [case[1:] for case in HOSTILE],
                         ids=[case[0] for case in HOSTILE])
def test_import_rejects_hostile_tarball(tmp_path: Path, entries: list[Entry], entry: str, reason: str) -> None:
    tarball = write_tar(tmp_path / "bad.tar", [("file", "ok", ""), *entries])
    reference = f"oci:{tmp_path}/store:bad"

    with pytest.raises(UnsafeLayerError) as raised:
        import_rootfs(tarball, reference)

    assert raised.value.entry == entry
    assert raised.value.reason == reason
    assert raised.value.image == reference
    assert f"(from {tarball}) of image {reference}: " in str(raised.value)
    assert not (tmp_path / "store").exists()


def test_import_accepts_links_inside_root(tmp_path: Path) -> None:
    tarball = write_tar(tmp_path / "good.tar", [
        ("dir", "bin", ""), ("file", "bin/busybox", ""), ("symlink", "bin/sh", "/bin/busybox"),
        ("symlink", "usr", "."), ("file", "usr/bin/tool", ""), ("hardlink", "bin/ash", "bin/busybox"),
        ("symlink", "bin/up", "../etc"),
    ])
    reference = f"oci:{tmp_path}/store:good"

    imported = import_rootfs(tarball, reference)

    assert ImageResolver().resolve(reference).manifest_digest == imported.manifest_digest


def test_check_rejects_unsupported_type(tmp_path: Path) -> None:
    tarball = tmp_path / "odd.tar"
    with tarfile.open(tarball, "w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("contiguous")
        info.type = tarfile.CONTTYPE
        archive.addfile(info, io.BytesIO(b""))
        info = tarfile.TarInfo("volume")
        info.type = b"V"
        archive.addfile(info)

    with open(tarball, "rb") as blob, pytest.raises(UnsafeLayerError) as raised:
        check_layer_entries(blob, layer="odd.tar")

    assert raised.value.entry == "volume"
    assert raised.value.reason == "unsupported tar entry type b'V'"


def test_check_counts_entries(tmp_path: Path) -> None:
    tarball = write_tar(tmp_path / "good.tar", [("dir", "etc", ""), ("file", "etc/hostname", "")])

    with open(tarball, "rb") as blob:
        assert check_layer_entries(blob, layer="test") == 2


def test_cli_import_rejects_hostile_tarball(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tarball = write_tar(tmp_path / "bad.tar", [("file", "../escape", "")])

    status = main(["image", "import", str(tarball), f"oci:{tmp_path}/store:bad"])

    output = capsys.readouterr()
    assert status != 0
    assert output.out == ""
    assert "unsafe entry '../escape'" in output.err
    assert not (tmp_path / "store").exists()


def test_unpack_error_names_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tarball = write_tar(tmp_path / "bad.tar", [("file", "ok", ""), ("file", "../escape", "")])
    reference = f"oci:{tmp_path}/store:bad"
    # Skip the import check to store an image that a foreign tool could have written.
    monkeypatch.setattr(importer, "check_layer_entries", lambda *args, **options: 0)
    import_rootfs(tarball, reference)
    image = ImageResolver().image(reference)

    with pytest.raises(UnsafeLayerError) as raised:
        unpack_image(image, tmp_path / "root")

    layer_digest = image.layers()[0].digest
    assert str(raised.value) == (
        f"unsafe entry '../escape' in layer {layer_digest} of image {reference}: path contains '..'"
    )
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "root").exists()
