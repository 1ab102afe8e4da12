"""kaniko's cache entries on the three backends: registry, layout store, per-key layouts."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cachelab.oci import mediatypes
from cachelab.oci.cache import (
    POINTER_LABEL,
    CachedLayer,
    InvalidCacheEntry,
    KanikoLayoutCache,
    LayoutLayerCache,
    RegistryLayerCache,
    open_layer_cache,
)
from cachelab.oci.layers import LayerFile, write_layer
from cachelab.oci.layout import LayoutStore
from cachelab.oci.registry import RegistryClient
from tests.fixtures.registry import RegistryServer

KEY = "1f" * 32
OTHER_KEY = "2e" * 32
CREATED = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
INSTRUCTION = "RUN /bin/sh -c echo hello > /greeting"


def planner_entry_fields() -> list[str]:
    # The planner's CacheEntry fields, kept here so the test works without importing plan.
    return ["key", "created", "layer_digest", "layer_size", "layer_media_type", "diff_id",
            "pointer_target", "created_by", "manifest_digest", "layer_count"]


def make_layer(directory: Path, compression: str = "gzip") -> LayerFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("greeting")
        info.size = 6
        archive.addfile(info, io.BytesIO(b"hello\n"))
    buffer.seek(0)
    return write_layer(buffer, compression, directory=directory)


@pytest.fixture(params=["registry", "layout", "kaniko-layout"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryLayerCache | LayoutLayerCache | KanikoLayoutCache]:
    if request.param == "registry":
        server: RegistryServer = request.getfixturevalue("registry")
        client = RegistryClient(server.address)
        yield RegistryLayerCache(client, f"cache/{tmp_path.name.lower()}")
        client.close()
    elif request.param == "layout":
        yield LayoutLayerCache(tmp_path / "store")
    else:
        yield KanikoLayoutCache(tmp_path / "kaniko" / "cache")


def test_entry_fields_match_planner() -> None:
    assert [field.name for field in dataclasses.fields(CachedLayer)] == planner_entry_fields()


def test_lookup_missing_is_none(cache) -> None:
    assert cache.lookup(KEY) is None


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_layer_entry_round_trip(cache, tmp_path: Path, compression: str) -> None:
    layer = make_layer(tmp_path, compression)

    cache.put_layer(KEY, layer, created_by=INSTRUCTION, created=CREATED)
    entry = cache.lookup(KEY)

    assert entry is not None
    assert entry.key == KEY
    assert entry.created == CREATED
    assert entry.layer_digest == layer.digest
    assert entry.layer_size == layer.size
    assert entry.layer_media_type == layer.media_type
    assert entry.diff_id == layer.diff_id
    assert entry.created_by == INSTRUCTION
    assert entry.pointer_target is None
    assert entry.manifest_digest and entry.manifest_digest.startswith("sha256:")
    with cache.open_layer(entry) as stream:
        assert stream.read() == Path(layer.path).read_bytes()


def test_pointer_entry_round_trip(cache) -> None:
    cache.put_pointer(OTHER_KEY, "ab" * 32, created=CREATED)

    entry = cache.lookup(OTHER_KEY)

    assert entry is not None
    assert entry.pointer_target == "ab" * 32
    assert entry.layer_digest is None
    assert entry.created == CREATED
    with pytest.raises(InvalidCacheEntry):
        cache.open_layer(entry)


def test_layer_entry_image_shape(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path / "store")
    cache = LayoutLayerCache(store)
    layer = make_layer(tmp_path)

    cache.put_layer(KEY, layer, created_by=INSTRUCTION, created=CREATED)

    manifest = json.loads(store.read_blob(store.find(KEY)["digest"]))
    config = json.loads(store.read_blob(manifest["config"]["digest"]))
    assert manifest["mediaType"] == mediatypes.OCI_MANIFEST
    assert len(manifest["layers"]) == 1
    assert config["created"] == "2025-03-01T12:30:15.123456Z"
    assert config["history"] == [{"created": "2025-03-01T12:30:15.123456Z", "author": "kaniko",
                                  "created_by": INSTRUCTION}]
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer.diff_id]}


def test_pointer_entry_image_shape(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path / "store")
    LayoutLayerCache(store).put_pointer(KEY, "target-state", created=CREATED)

    manifest = json.loads(store.read_blob(store.find(KEY)["digest"]))
    config = json.loads(store.read_blob(manifest["config"]["digest"]))
    assert manifest["layers"] == []
    assert config["config"]["Labels"] == {POINTER_LABEL: "target-state"}


def test_kaniko_layout_directory_per_key(tmp_path: Path) -> None:
    cache = KanikoLayoutCache(tmp_path / "cache")
    cache.put_layer(KEY, make_layer(tmp_path), created_by=INSTRUCTION, created=CREATED)

    entry_dir = tmp_path / f"cache:{KEY}"
    assert (entry_dir / "oci-layout").is_file()
    assert LayoutStore(entry_dir).check() == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".cache")] == []


class FailingOpen:
    """A layer whose blob cannot be read: the put must fail before tagging."""

    def __init__(self, layer: LayerFile, directory: Path) -> None:
        self.path = str(directory / "vanished.blob")
        self.digest = layer.digest
        self.size = layer.size
        self.diff_id = layer.diff_id
        self.media_type = layer.media_type


def test_failed_put_is_invisible(cache, tmp_path: Path) -> None:
    broken = FailingOpen(make_layer(tmp_path), tmp_path)

    with pytest.raises(FileNotFoundError):
        cache.put_layer(KEY, broken, created_by=INSTRUCTION, created=CREATED)

    assert cache.lookup(KEY) is None


def test_layout_entry_with_two_layers_is_invalid(tmp_path: Path) -> None:
    from cachelab.oci.image import Blob, LayoutImageSource
    from cachelab.oci.manifest import build_config, build_manifest

    store = LayoutStore(tmp_path / "store")
    first, second = make_layer(tmp_path), make_layer(tmp_path, "zstd")
    config = build_config(diff_ids=[first.diff_id, second.diff_id], created=CREATED, history=[])
    blobs = [Blob.from_layer_file(first), Blob.from_layer_file(second)]
    manifest, media_type = build_manifest(config, [b.descriptor() for b in blobs])
    LayoutImageSource(store).write_image(manifest, media_type, [*blobs, Blob.from_bytes(config, mediatypes.OCI_CONFIG)],
                                         tag=KEY)

    with pytest.raises(InvalidCacheEntry, match="2 layers") as caught:
        LayoutLayerCache(store).lookup(KEY)

    # The builder takes this entry as found and fails where it applies it, as kaniko does.
    assert caught.value.entry is not None
    assert caught.value.entry.layer_count == 2
    assert caught.value.entry.key == KEY


def test_open_layer_cache_chooses_backend(tmp_path: Path) -> None:
    assert isinstance(open_layer_cache(f"oci:{tmp_path}/c"), KanikoLayoutCache)
    assert isinstance(open_layer_cache(str(tmp_path / "store")), LayoutLayerCache)
    registry_cache = open_layer_cache("127.0.0.1:5999/app/cache")
    assert isinstance(registry_cache, RegistryLayerCache)
    assert registry_cache.source.repository == "app/cache"
    registry_cache.source.client.close()


def test_created_keeps_timezone(tmp_path: Path) -> None:
    cache = LayoutLayerCache(tmp_path / "store")
    cache.put_pointer(KEY, "t", created=CREATED.astimezone(timezone(timedelta(hours=5))))
    entry = cache.lookup(KEY)
    assert entry is not None
    assert entry.created == CREATED
    assert entry.created.tzinfo is not None
