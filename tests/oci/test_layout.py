from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from cachelab.oci import mediatypes
from cachelab.oci._files import sha256_digest
from cachelab.oci.errors import DigestMismatch, LayoutError
from cachelab.oci.layout import LayoutStore
from cachelab.oci.manifest import Descriptor, build_manifest


def store_image(store: LayoutStore, tag: str, payload: bytes) -> str:
    layer_digest, layer_size = store.write_blob(payload)
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [layer_digest]}, "tag": tag}).encode()
    store.write_blob(config)
    manifest, media_type = build_manifest(config, [Descriptor(mediatypes.OCI_LAYER, layer_digest, layer_size)])
    return str(store.put_manifest(manifest, media_type, tag=tag)["digest"])


def test_layout_files_created(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path / "s")
    store.ensure()
    assert json.loads((tmp_path / "s/oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert json.loads((tmp_path / "s/index.json").read_text())["manifests"] == []
    assert (tmp_path / "s/blobs/sha256").is_dir()


def test_tag_find_and_retag(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    first = store_image(store, "t", b"one")
    second = store_image(store, "t", b"two")

    assert store.tags() == ["t"]
    assert store.find("t")["digest"] == second
    assert store.find(first) is not None
    assert store.find("missing") is None


def test_write_blob_verifies_digest(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    wrong = sha256_digest(b"other")
    with pytest.raises(DigestMismatch):
        store.write_blob(b"content", wrong)
    assert not store.has_blob(wrong)
    assert not [p for p in (tmp_path / "blobs/sha256").iterdir()]


def test_no_temporary_files_left(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    store_image(store, "a", b"payload")
    leftovers = [p.name for p in tmp_path.rglob(".*") if p.name != "index.json.lock"]
    assert leftovers == []


def test_index_replaced_atomically(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    store_image(store, "a", b"payload")
    inode = (tmp_path / "index.json").stat().st_ino
    store_image(store, "b", b"payload-b")
    # A new inode means the index was renamed into place, not rewritten in place.
    assert (tmp_path / "index.json").stat().st_ino != inode


def _tag_many(path: str, prefix: str, count: int) -> None:
    store = LayoutStore(path)
    for number in range(count):
        store_image(store, f"{prefix}-{number}", f"{prefix}{number}".encode())


def test_concurrent_writers_keep_every_tag(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_tag_many, args=(str(tmp_path), name, 25)) for name in ("p", "q")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0

    store = LayoutStore(tmp_path)
    assert sorted(store.tags()) == sorted([f"p-{n}" for n in range(25)] + [f"q-{n}" for n in range(25)])
    assert store.check() == []


def test_gc_removes_only_unreferenced(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    kept = store_image(store, "keep", b"kept-layer")
    store_image(store, "drop", b"dropped-layer")
    orphan, _ = store.write_blob(b"orphan")
    store.untag("drop")

    removed = store.gc()

    assert orphan in removed
    assert sha256_digest(b"dropped-layer") in removed
    assert store.has_blob(kept)
    assert store.has_blob(sha256_digest(b"kept-layer"))
    assert store.check() == []


def test_gc_spares_young_blobs(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    orphan, _ = store.write_blob(b"in-progress")
    assert store.gc(keep_newer_than=3600) == []
    assert store.has_blob(orphan)


def test_check_detects_corrupted_blob(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    store_image(store, "t", b"layer-content")
    layer = store.blob_path(sha256_digest(b"layer-content"))
    layer.write_bytes(b"layer-contenX")

    problems = store.check()

    assert len(problems) == 1
    assert problems[0].path == str(layer)
    assert "hashes to" in problems[0].message


def test_check_detects_missing_blob_and_size(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    store_image(store, "t", b"layer-content")
    store.blob_path(sha256_digest(b"layer-content")).unlink()
    index = json.loads((tmp_path / "index.json").read_text())
    index["manifests"][0]["size"] += 1
    (tmp_path / "index.json").write_text(json.dumps(index))

    messages = [problem.message for problem in store.check()]

    assert any("missing" in message for message in messages)
    assert any("size" in message for message in messages)


def test_check_on_non_layout(tmp_path: Path) -> None:
    problems = LayoutStore(tmp_path).check()
    assert "oci-layout" in problems[0].message


def test_open_missing_blob_names_layout(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    store.ensure()
    digest = sha256_digest(b"absent")
    with pytest.raises(LayoutError, match=str(tmp_path)):
        store.open_blob(digest)


def test_read_blob_detects_corruption(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    digest, _ = store.write_blob(b"manifest")
    store.blob_path(digest).write_bytes(b"tampered")
    with pytest.raises(DigestMismatch):
        store.read_blob(digest)


def test_layout_index_platform_and_digest(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cachelab.oci.image import Blob, ImageResolver, LayoutImageSource
    from cachelab.oci.manifest import Platform, build_config, build_index

    source = LayoutImageSource(LayoutStore(tmp_path))
    descriptors = []
    for platform in (Platform("linux", "amd64"), Platform("linux", "arm64")):
        config = build_config(diff_ids=[], created=datetime(2024, 1, 1, tzinfo=UTC), history=[], target=platform)
        manifest, media_type = build_manifest(config, [])
        digest = source.write_image(manifest, media_type, [Blob.from_bytes(config, mediatypes.OCI_CONFIG)], tag=None)
        descriptors.append(Descriptor(media_type, digest, len(manifest),
                                      platform={"os": "linux", "architecture": platform.architecture}))
    index, index_type = build_index(descriptors)
    source.write_image(index, index_type, [], tag="multi")
    resolver = ImageResolver()

    arm = resolver.resolve(f"oci:{tmp_path}:multi", platform="linux/arm64")
    pinned = resolver.resolve(f"oci:{tmp_path}@{descriptors[0].digest}")

    assert arm.manifest_digest == descriptors[1].digest
    assert json.loads(arm.config)["architecture"] == "arm64"
    assert pinned.manifest_digest == descriptors[0].digest
    assert LayoutStore(tmp_path).check() == []
