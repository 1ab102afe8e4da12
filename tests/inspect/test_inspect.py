from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from cachelab.cli import main
from cachelab.oci import mediatypes
from cachelab.oci.errors import DigestMismatch
from cachelab.oci.image import ImageResolver
from cachelab.oci.inspect import inspect_image, inspect_reference, layer_history
from tests.fixtures.images import BusyboxImage
from tests.inspect.synthetic import entry, gzip_fixed, write_image, write_multi_platform_layout


@pytest.fixture
def resolver() -> Iterator[ImageResolver]:
    opened = ImageResolver()
    yield opened
    opened.close()


def test_inspect_busybox(busybox_image: BusyboxImage, resolver: ImageResolver) -> None:
    entries_on_disk = sum(len(dirs) + len(files) for _, dirs, files in os.walk(busybox_image.rootfs))

    report = inspect_image(resolver.image(busybox_image.registry_ref))

    assert report.manifest_digest == busybox_image.manifest_digest
    assert report.media_type == mediatypes.OCI_MANIFEST
    assert report.cmd == ["sh"]
    assert any(value.startswith("PATH=") for value in report.env)
    assert len(report.layers) == 1
    layer = report.layers[0]
    assert layer.diff_id == busybox_image.diff_id
    assert layer.compression == "gzip"
    assert layer.entries == entries_on_disk
    assert layer.uncompressed_size is not None
    assert layer.uncompressed_size > layer.size
    assert layer.created_by == "cachelab image import rootfs"


def test_history_skips_empty_layers(tmp_path: Path, resolver: ImageResolver) -> None:
    history: list[dict[str, Any]] = [
        {"created_by": "RUN make a"},
        {"created_by": "ENV A=1", "empty_layer": True},
        {"created_by": "LABEL x=y", "empty_layer": True},
        {"created_by": "COPY b /b"},
    ]
    write_image(f"oci:{tmp_path}:h", [[entry("a", data=b"a")], [entry("b", data=b"b")]], history=history,
                labels={"x": "y"})

    report = inspect_image(resolver.image(f"oci:{tmp_path}:h"))

    assert [layer.created_by for layer in report.layers] == ["RUN make a", "COPY b /b"]
    assert report.labels == {"x": "y"}
    assert len(report.history) == 4


def test_history_mismatch_gives_no_instructions() -> None:
    history = [{"created_by": "RUN a"}, {"created_by": "RUN b"}, {"created_by": "RUN c"}]

    assert layer_history(history, 2) == [None, None]
    assert layer_history([], 1) == [None]


def test_inspect_counts_and_sniffs_zstd(tmp_path: Path, resolver: ImageResolver) -> None:
    entries = [entry("d", "dir", mode=0o755), entry("d/f", data=b"x" * 5000), entry("d/l", "symlink", link="f")]
    write_image(f"oci:{tmp_path}:z", [entries], compress=zstandard.ZstdCompressor().compress,
                media_type=mediatypes.OCI_LAYER_ZSTD)

    layer = inspect_image(resolver.image(f"oci:{tmp_path}:z")).layers[0]

    assert layer.compression == "zstd"
    assert layer.entries == 3
    assert layer.media_type == mediatypes.OCI_LAYER_ZSTD
    assert layer.uncompressed_size is not None
    assert layer.uncompressed_size % 512 == 0


def test_wrong_diff_id_detected(tmp_path: Path, resolver: ImageResolver) -> None:
    wrong = "sha256:" + "1" * 64
    write_image(f"oci:{tmp_path}:bad", [[entry("a", data=b"a")]], diff_ids=[wrong])

    with pytest.raises(DigestMismatch) as caught:
        inspect_image(resolver.image(f"oci:{tmp_path}:bad"))

    assert caught.value.expected == wrong


def test_inspect_cli_names_non_tar_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A valid gzip stream with the right digest, whose content is not a tar archive.
    image = write_image(f"oci:{tmp_path}:bad", [[entry("a", data=b"a" * 1000)]],
                        compress=lambda data: gzip_fixed(bytes(byte ^ 0xFF for byte in data)))

    code = main(["image", "inspect", f"oci:{tmp_path}:bad"])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: layer {image.layer_digests[0]} is not a valid tar stream" in err
    assert "cachelab: hint: The blob is damaged or is not a layer" in err


def test_inspect_cli_flipped_blob_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = write_image(f"oci:{tmp_path}:bad", [[entry("a", data=b"a" * 1000)]])
    blob = tmp_path / "blobs/sha256" / image.layer_digests[0].removeprefix("sha256:")
    data = bytearray(blob.read_bytes())
    for position in range(12, len(data) - 8):
        data[position] ^= 0xFF
    blob.write_bytes(bytes(data))

    code = main(["image", "inspect", f"oci:{tmp_path}:bad"])

    err = capsys.readouterr().err
    assert code == 1
    assert f"digest mismatch for blob in layout {tmp_path}: expected {image.layer_digests[0]}" in err


def test_no_layers_reads_no_blobs(tmp_path: Path, resolver: ImageResolver) -> None:
    image = write_image(f"oci:{tmp_path}:n", [[entry("a", data=b"a")]])
    (tmp_path / "blobs/sha256" / image.layer_digests[0].removeprefix("sha256:")).unlink()

    report = inspect_image(resolver.image(f"oci:{tmp_path}:n"), read_layers=False)

    assert report.layers[0].entries is None
    assert report.layers[0].digest == image.layer_digests[0]


def test_inspect_cli_json(busybox_image: BusyboxImage, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["image", "inspect", busybox_image.layout_ref, "--format", "json"])

    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["manifest_digest"] == busybox_image.manifest_digest
    assert document["platform"].startswith("linux/")
    assert document["layers"][0]["diff_id"] == busybox_image.diff_id


def test_inspect_cli_table(busybox_image: BusyboxImage, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["image", "inspect", busybox_image.layout_ref])

    output = capsys.readouterr().out
    assert code == 0
    assert busybox_image.manifest_digest in output
    assert "cachelab image import rootfs" in output


def test_inspect_index_lists_platforms(tmp_path: Path, resolver: ImageResolver) -> None:
    index_digest, _, arm64 = write_multi_platform_layout(tmp_path / "multi")

    report = inspect_reference(resolver, f"oci:{tmp_path / 'multi'}:multi", platform="linux/arm64")

    assert report.index_digest == index_digest
    assert report.index_platforms == ["linux/amd64", "linux/arm64"]
    assert report.manifest_digest == arm64
    assert report.platform == "linux/arm64"


def test_inspect_plain_manifest_has_no_index(busybox_image: BusyboxImage, resolver: ImageResolver) -> None:
    report = inspect_reference(resolver, busybox_image.layout_ref, read_layers=False)

    assert report.index_digest is None
    assert report.index_platforms == []
