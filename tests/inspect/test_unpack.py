from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.oci.errors import UnsafeLayerError
from cachelab.oci.image import ImageResolver
from cachelab.oci.unpack import UnpackTargetError, unpack_image
from tests.fixtures.images import BusyboxImage
from tests.inspect.synthetic import entry, write_image
from tests.oci.test_extract import MALICIOUS, snapshot

BENIGN = [entry("etc", "dir", mode=0o755), entry("etc/hostname", data=b"box\n")]
# Device nodes are allowed when unpacking as root, as in the builder.
HOSTILE = [case for case in MALICIOUS if case[0] != "device node" or os.geteuid() != 0]


@pytest.fixture
def resolver() -> Iterator[ImageResolver]:
    opened = ImageResolver()
    yield opened
    opened.close()


def test_unpack_busybox_from_registry(busybox_image: BusyboxImage, tmp_path: Path, resolver: ImageResolver) -> None:
    root = tmp_path / "root"

    result = unpack_image(resolver.image(busybox_image.registry_ref), root)

    assert len(result.layers) == 1
    assert (root / "bin/busybox").read_bytes() == (busybox_image.rootfs / "bin/busybox").read_bytes()
    assert os.readlink(root / "bin/sh") == "busybox"
    assert (root / "etc/passwd").read_text().startswith("root:x:0:0")
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == \
        sorted(p.relative_to(busybox_image.rootfs) for p in busybox_image.rootfs.rglob("*"))


def test_unpack_applies_whiteouts_in_order(tmp_path: Path, resolver: ImageResolver) -> None:
    store = tmp_path / "store"
    image = write_image(f"oci:{store}:w", [
        [entry("a/keep", data=b"1"), entry("a/gone", data=b"2"), entry("b/x", data=b"3")],
        [entry("a/.wh.gone"), entry("b/.wh..wh..opq"), entry("b/y", data=b"4")],
    ])
    root = tmp_path / "root"

    unpack_image(resolver.image(f"oci:{store}:w"), root)

    assert image.layer_digests
    assert (root / "a/keep").read_bytes() == b"1"
    assert not (root / "a/gone").exists()
    assert sorted(p.name for p in (root / "b").iterdir()) == ["y"]


def test_unpack_rejects_nonempty_root(busybox_image: BusyboxImage, tmp_path: Path, resolver: ImageResolver) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "existing").write_text("x")

    with pytest.raises(UnpackTargetError):
        unpack_image(resolver.image(busybox_image.layout_ref), root)

    assert [p.name for p in root.iterdir()] == ["existing"]


def test_unpack_rejects_file_as_root(busybox_image: BusyboxImage, tmp_path: Path, resolver: ImageResolver) -> None:
    target = tmp_path / "file"
    target.write_text("x")

    with pytest.raises(UnpackTargetError):
        unpack_image(resolver.image(busybox_image.layout_ref), target)


@pytest.mark.parametrize(("case", "entries", "bad_entry", "reason"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_unpack_rejects_hostile_layer(resolver: ImageResolver, tmp_path: Path, case: str, entries: list, bad_entry: str,
                                      reason: str) -> None:
    work = tmp_path / "work"
    outside = work / "outside"
    outside.mkdir(parents=True)
    (outside / "secret").write_text("do not touch")
    store = tmp_path / "store"
    image = write_image(f"oci:{store}:hostile", [BENIGN, entries])
    before = snapshot(work)
    root = work / "root"

    with pytest.raises(UnsafeLayerError) as caught:
        unpack_image(resolver.image(f"oci:{store}:hostile"), root)

    assert caught.value.layer_digest == image.layer_digests[1]
    assert caught.value.entry == bad_entry
    assert reason in caught.value.reason
    assert not root.exists()
    assert snapshot(work) == before


def test_keep_partial_leaves_lower_layers(tmp_path: Path, resolver: ImageResolver) -> None:
    store = tmp_path / "store"
    write_image(f"oci:{store}:hostile", [BENIGN, [entry("../outside/evil", data=b"x")]])
    root = tmp_path / "root"

    with pytest.raises(UnsafeLayerError):
        unpack_image(resolver.image(f"oci:{store}:hostile"), root, keep_partial=True)

    assert (root / "etc/hostname").read_bytes() == b"box\n"
    assert not (tmp_path / "outside").exists()


def test_unpack_cli_reports_layer_and_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    image = write_image(f"oci:{store}:hostile", [BENIGN, [entry("a/../../outside/evil", data=b"x")]])

    code = main(["image", "unpack", f"oci:{store}:hostile", str(tmp_path / "root")])

    error = capsys.readouterr().err
    assert code == 1
    assert image.layer_digests[1] in error
    assert "a/../../outside/evil" in error


def test_unpack_cli_succeeds(busybox_image: BusyboxImage, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["image", "unpack", busybox_image.layout_ref, str(tmp_path / "root")])

    assert code == 0
    assert "unpacked 1 layers" in capsys.readouterr().out
    assert (tmp_path / "root/bin/busybox").is_file()
