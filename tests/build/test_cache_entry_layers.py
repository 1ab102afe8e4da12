"""Cache hits on entries without exactly one layer fail the build as in kaniko, except WORKDIR's empty entry."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pytest

from cachelab.build.cache_hits import InvalidCacheHit, hit_adds_layer
from cachelab.build.request import BuildResult
from cachelab.build.stores import cache_store_of
from cachelab.oci import mediatypes
from cachelab.oci.cache import LayoutLayerCache
from cachelab.oci.image import Blob, LayoutImageSource
from cachelab.oci.layout import LayoutStore
from cachelab.oci.manifest import build_config, build_manifest
from cachelab.plan.interfaces import CacheEntry
from tests.fixtures.builder import build_text

DOCKERFILE = """\
FROM busybox
WORKDIR /srv
RUN echo hi > /srv/x
"""
WORKDIR_INDEX = 0
RUN_INDEX = 1


def replace_entry(cache_dir: Path, key: str, layer_keys: list[str]) -> None:
    """Store under `key` an entry whose layers are those of the entries `layer_keys` (none: an empty entry)."""
    cache = LayoutLayerCache(cache_dir)
    blobs = []
    diff_ids = []
    for layer_key in layer_keys:
        entry = cache.lookup(layer_key)
        assert entry is not None and entry.layer_digest is not None and entry.diff_id is not None
        path = cache.layer_file(entry)
        assert path is not None
        media_type = entry.layer_media_type or mediatypes.OCI_LAYER_GZIP
        blobs.append(Blob(entry.layer_digest, entry.layer_size or 0, media_type, opener(path), str(path)))
        diff_ids.append(entry.diff_id)
    config = build_config(diff_ids=diff_ids, created=datetime.now(UTC), history=[])
    manifest, media_type = build_manifest(config, [blob.descriptor() for blob in blobs])
    config_blob = Blob.from_bytes(config, mediatypes.config_media_type_for(media_type))
    LayoutImageSource(LayoutStore(cache_dir)).write_image(manifest, media_type, [*blobs, config_blob], tag=key)


def opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: open(path, "rb")


def cold_build(tmp_path: Path, image_store: Path) -> tuple[BuildResult, list[str]]:
    """Build DOCKERFILE with an empty cache; return the result and the keys of WORKDIR and RUN."""
    result, _ = build_text(tmp_path, image_store, DOCKERFILE, "per-stage")
    keys = [instruction.key for instruction in result.stages[0].instructions]
    assert all(key is not None for key in keys)
    return result, keys  # type: ignore[return-value]


@pytest.mark.parametrize("layers", [0, 2])
def test_run_hit_without_one_layer_fails(tmp_path: Path, image_store: Path, layers: int) -> None:
    _, keys = cold_build(tmp_path, image_store)
    replace_entry(tmp_path / "cache", keys[RUN_INDEX], [keys[RUN_INDEX], keys[WORKDIR_INDEX]][:layers])

    with pytest.raises(InvalidCacheHit) as caught:
        build_text(tmp_path, image_store, DOCKERFILE, "per-stage")

    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'Dockerfile'}:3: RUN echo hi > /srv/x: ")
    assert f"cache entry {keys[RUN_INDEX]} in cache store {tmp_path / 'cache'}" in message
    assert f"has {layers} layers, but a cached RUN needs exactly 1 layer" in message
    assert f"Delete the store directory {tmp_path / 'cache'}" in (caught.value.hint or "")
    assert "--strategy no-cache" in (caught.value.hint or "")


def test_workdir_hit_with_two_layers_fails(tmp_path: Path, image_store: Path) -> None:
    _, keys = cold_build(tmp_path, image_store)
    replace_entry(tmp_path / "cache", keys[WORKDIR_INDEX], [keys[WORKDIR_INDEX], keys[RUN_INDEX]])

    with pytest.raises(InvalidCacheHit) as caught:
        build_text(tmp_path, image_store, DOCKERFILE, "per-stage")

    assert caught.value.line == 2
    assert "has 2 layers, but a cached WORKDIR needs 0 or 1 layers" in str(caught.value)


def test_workdir_hit_on_empty_entry_adds_no_layer(tmp_path: Path, image_store: Path) -> None:
    cold, keys = cold_build(tmp_path, image_store)
    replace_entry(tmp_path / "cache", keys[WORKDIR_INDEX], [])

    warm, _ = build_text(tmp_path, image_store, DOCKERFILE, "per-stage")

    assert [instruction.decision for instruction in warm.stages[0].instructions] == ["hit", "hit"]
    assert len(warm.image.layers) == len(cold.image.layers) - 1
    config = json.loads(warm.image.config)
    assert config["config"]["WorkingDir"] == "/srv"
    assert config["history"][-2]["empty_layer"] is True



@pytest.mark.parametrize(("location", "removal"), [
    ("oci:/cache/app", "Delete the entry directory /cache/app:{key} "),
    ("127.0.0.1:5000/app/cache", "Delete the tag {key} from 127.0.0.1:5000/app/cache "),
])
def test_hint_names_entry_to_delete(location: str, removal: str) -> None:
    key = "ab" * 32
    store, kind = cache_store_of(location)
    entry = CacheEntry(key=key, created=datetime.now(UTC), layer_count=2)

    with pytest.raises(InvalidCacheHit) as caught:
        hit_adds_layer(entry, "COPY", store=store, store_kind=kind)

    assert (caught.value.hint or "").startswith(removal.format(key=key))
    assert f"cache entry {key} in cache store {location} has 2 layers" in str(caught.value)
