"""Base images from saved manifest and config files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cachelab.plan.errors import BaseImageError
from cachelab.plan.images import FileImageSource, SavedImage, parse_base_option

DATA = Path(__file__).resolve().parent.parent / "keys" / "data"
BUSYBOX_DIGEST = "sha256:3fabd8c617177ad98cd0cdd02e2e734dbb422b4b5f2071ab57b399cfe65d82c0"


def test_parse_base_option_splits_reference_and_files() -> None:
    reference, saved = parse_base_option("example.org/busybox:1=m.json,c.json")

    assert reference == "example.org/busybox:1"
    assert saved == SavedImage(Path("m.json"), Path("c.json"))


@pytest.mark.parametrize("value", ["busybox", "busybox=m.json", "=m.json,c.json", "busybox=,c.json"])
def test_parse_base_option_rejects_malformed(value: str) -> None:
    with pytest.raises(BaseImageError, match="REF=MANIFEST.json,CONFIG.json"):
        parse_base_option(value)


def test_file_source_digest_is_registry_digest() -> None:
    source = FileImageSource({
        "example.org/busybox:1": SavedImage(DATA / "busybox-manifest.json", DATA / "busybox-config.json"),
    })

    image = source.resolve("example.org/busybox:1")

    assert image.manifest_digest == BUSYBOX_DIGEST
    assert image.manifest_digest == "sha256:" + hashlib.sha256(image.manifest).hexdigest()
    assert image.seed is None


def test_file_source_unknown_reference_names_known_ones() -> None:
    source = FileImageSource({"a:1": SavedImage(Path("m"), Path("c"))})

    with pytest.raises(BaseImageError, match="'b:2'.*a:1"):
        source.resolve("b:2")


def test_file_source_missing_file_names_path(tmp_path: Path) -> None:
    source = FileImageSource({"a:1": SavedImage(tmp_path / "absent.json", tmp_path / "c.json")})

    with pytest.raises(BaseImageError, match="absent.json"):
        source.resolve("a:1")
