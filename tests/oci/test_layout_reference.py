"""`oci:DIR:TAG` references whose tag contains ':' or '/', and layouts that do not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.oci.errors import InvalidReference, LayoutError
from cachelab.oci.image import ImageResolver
from cachelab.oci.importer import import_rootfs
from cachelab.oci.layout import LayoutStore
from cachelab.oci.reference import LayoutReference, parse_reference

STORE_TAG = "docker.io/library/busybox:latest"


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("cachelab\n")
    return root


def test_tag_with_colon_and_slash_in_existing_layout(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()

    assert parse_reference(f"oci:{store}:{STORE_TAG}") == LayoutReference(str(store), STORE_TAG)


def test_longest_existing_directory_is_the_layout(tmp_path: Path) -> None:
    (tmp_path / "cache:ab").mkdir()

    assert parse_reference(f"oci:{tmp_path}/cache:ab") == LayoutReference(f"{tmp_path}/cache:ab", "latest")
    assert parse_reference(f"oci:{tmp_path}/cache:ab:v1") == LayoutReference(f"{tmp_path}/cache:ab", "v1")


def test_missing_directory_keeps_last_colon_rule(tmp_path: Path) -> None:
    missing = tmp_path / "new"

    assert parse_reference(f"oci:{missing}:v1") == LayoutReference(str(missing), "v1")
    assert parse_reference(f"oci:{missing}:a/b") == LayoutReference(f"{missing}:a/b", "latest")


def test_digest_reference_in_existing_layout(tmp_path: Path) -> None:
    digest = "sha256:" + "a" * 64

    assert parse_reference(f"oci:{tmp_path}@{digest}") == LayoutReference(str(tmp_path), None, digest)


def test_invalid_tag_in_existing_layout(tmp_path: Path) -> None:
    with pytest.raises(InvalidReference) as raised:
        parse_reference(f"oci:{tmp_path}:bad tag")

    assert "'bad tag'" in str(raised.value)
    assert str(tmp_path) in str(raised.value)


def test_import_and_resolve_store_tag(tmp_path: Path, rootfs: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    reference = f"oci:{store}:{STORE_TAG}"

    imported = import_rootfs(rootfs, reference)
    resolver = ImageResolver()
    resolved = resolver.resolve(reference)

    assert LayoutStore(store).tags() == [STORE_TAG]
    assert resolved.manifest_digest == imported.manifest_digest
    assert not Path(f"{store}:docker.io").exists()


def test_missing_layout_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    with pytest.raises(LayoutError) as raised:
        ImageResolver().resolve(f"oci:{missing}:foo")

    assert str(raised.value) == f"OCI layout directory {missing} not found (looking up 'foo')"
    assert raised.value.hint is not None


def test_directory_without_layout_is_named(tmp_path: Path) -> None:
    with pytest.raises(LayoutError) as raised:
        ImageResolver().resolve(f"oci:{tmp_path}:foo")

    assert str(raised.value).startswith(f"{tmp_path} is not an OCI image layout: it has no oci-layout file")
