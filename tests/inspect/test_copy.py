from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.oci import mediatypes
from cachelab.oci.copy import copy_image
from cachelab.oci.errors import DigestMismatch, ManifestNotFound, OCIError
from cachelab.oci.image import ImageResolver
from cachelab.oci.layout import LayoutStore
from cachelab.oci.reference import parse_registry_reference
from cachelab.oci.registry import RegistryClient
from tests.fixtures.images import BusyboxImage
from tests.fixtures.registry import RegistryServer
from tests.inspect.synthetic import entry, write_image, write_multi_platform_layout


def _tagged(store: LayoutStore, tag: str) -> str:
    descriptor = store.find(tag)
    assert descriptor is not None, f"no tag {tag!r} in {store.path}"
    return str(descriptor["digest"])


def test_pull_registry_to_layout(busybox_image: BusyboxImage, tmp_path: Path) -> None:
    store = tmp_path / "store"

    result = copy_image(busybox_image.registry_ref, f"oci:{store}:copied")

    assert result.manifest_digest == busybox_image.manifest_digest
    assert result.blobs_copied == 2
    assert result.blobs_skipped == 0
    assert _tagged(LayoutStore(store), "copied") == busybox_image.manifest_digest
    assert LayoutStore(store).check() == []


def test_second_pull_skips_present_blobs(busybox_image: BusyboxImage, tmp_path: Path) -> None:
    store = tmp_path / "store"
    copy_image(busybox_image.registry_ref, f"oci:{store}:first")

    result = copy_image(busybox_image.registry_ref, f"oci:{store}:second")

    assert result.blobs_copied == 0
    assert result.blobs_skipped == 2
    assert result.bytes_copied == 0
    assert _tagged(LayoutStore(store), "second") == busybox_image.manifest_digest


def test_push_layout_to_registry(busybox_image: BusyboxImage, registry: RegistryServer) -> None:
    destination = f"{registry.address}/inspect/pushed:v1"

    result = copy_image(busybox_image.layout_ref, destination)

    assert result.manifest_digest == busybox_image.manifest_digest
    resolver = ImageResolver()
    try:
        image = resolver.image(destination)
        assert image.manifest_digest == busybox_image.manifest_digest
        with image.layers()[0].open() as blob:
            assert blob.read()  # reading to the end verifies the digest
    finally:
        resolver.close()


def test_copy_within_registry(busybox_image: BusyboxImage, registry: RegistryServer) -> None:
    destination = f"{registry.address}/inspect/mounted:v1"

    result = copy_image(busybox_image.registry_ref, destination)

    assert result.manifest_digest == busybox_image.manifest_digest
    with RegistryClient(registry.address) as client:
        found = client.head_manifest(parse_registry_reference(destination))
    assert found is not None
    assert found[0] == busybox_image.manifest_digest


def test_corrupted_blob_stops_copy(tmp_path: Path, registry: RegistryServer) -> None:
    source = tmp_path / "source"
    image = write_image(f"oci:{source}:bad", [[entry("a", data=b"payload")]])
    blob = LayoutStore(source).blob_path(image.layer_digests[0])
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    destination = f"{registry.address}/inspect/corrupt:v1"

    with pytest.raises(DigestMismatch):
        copy_image(f"oci:{source}:bad", destination)

    resolver = ImageResolver()
    try:
        with pytest.raises(ManifestNotFound):
            resolver.resolve(destination)
    finally:
        resolver.close()


def test_all_platforms_copies_index(tmp_path: Path, registry: RegistryServer) -> None:
    index_digest, amd64, arm64 = write_multi_platform_layout(tmp_path / "multi")
    destination = f"{registry.address}/inspect/multi:all"

    result = copy_image(f"oci:{tmp_path / 'multi'}:multi", destination, all_platforms=True)

    assert result.manifest_digest == index_digest
    assert result.media_type == mediatypes.OCI_INDEX
    assert sorted(result.platforms) == ["linux/amd64", "linux/arm64"]
    assert result.manifests == 3
    with RegistryClient(registry.address) as client:
        top = client.get_manifest(parse_registry_reference(destination))
        assert top.digest == index_digest
        for child in (amd64, arm64):
            reference = parse_registry_reference(f"{registry.address}/inspect/multi@{child}")
            assert client.get_manifest(reference).digest == child


def test_single_platform_copies_its_manifest(tmp_path: Path) -> None:
    _, _, arm64 = write_multi_platform_layout(tmp_path / "multi")
    destination = tmp_path / "single"

    result = copy_image(f"oci:{tmp_path / 'multi'}:multi", f"oci:{destination}:arm", platform="linux/arm64")

    assert result.manifest_digest == arm64
    stored = LayoutStore(destination)
    assert _tagged(stored, "arm") == arm64
    config = json.loads(stored.read_blob(json.loads(stored.read_blob(arm64))["config"]["digest"]))
    assert config["architecture"] == "arm64"


def test_missing_platform_rejected(tmp_path: Path) -> None:
    write_multi_platform_layout(tmp_path / "multi")

    with pytest.raises(ManifestNotFound) as caught:
        copy_image(f"oci:{tmp_path / 'multi'}:multi", f"oci:{tmp_path / 'out'}:x", platform="linux/s390x")

    assert "linux/amd64" in str(caught.value)


def test_destination_digest_must_match(busybox_image: BusyboxImage, tmp_path: Path) -> None:
    wrong = "sha256:" + "0" * 64

    with pytest.raises(OCIError) as caught:
        copy_image(busybox_image.layout_ref, f"oci:{tmp_path / 'store'}@{wrong}")

    assert wrong in str(caught.value)


def test_all_platforms_into_layout(tmp_path: Path) -> None:
    index_digest, amd64, arm64 = write_multi_platform_layout(tmp_path / "multi")
    destination = tmp_path / "copy"

    result = copy_image(f"oci:{tmp_path / 'multi'}:multi", f"oci:{destination}:all", all_platforms=True)

    assert result.manifest_digest == index_digest
    store = LayoutStore(destination)
    assert store.check() == []
    assert _tagged(store, "all") == index_digest
    resolver = ImageResolver()
    try:
        for platform, expected in (("linux/amd64", amd64), ("linux/arm64", arm64)):
            assert resolver.image(f"oci:{destination}:all", platform=platform).manifest_digest == expected
    finally:
        resolver.close()


def test_pull_cli_prints_digest_and_counts(busybox_image: BusyboxImage, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    destination = f"oci:{tmp_path / 'store'}:cli"

    first = main(["image", "pull", busybox_image.registry_ref, destination])
    first_output = capsys.readouterr().out
    second = main(["image", "pull", busybox_image.registry_ref, destination])
    second_output = capsys.readouterr().out

    assert first == 0
    assert f"{destination} {busybox_image.manifest_digest}" in first_output
    assert "copied 2 blobs" in first_output
    assert second == 0
    assert "copied 0 blobs" in second_output
    assert "skipped 2 present" in second_output
