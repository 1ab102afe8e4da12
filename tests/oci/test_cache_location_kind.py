"""`cache_location_kind` takes a location as a registry repository only when it names a host."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.oci.cache import (
    KANIKO_LAYOUT,
    LAYOUT_STORE,
    REGISTRY_REPOSITORY,
    LayoutLayerCache,
    cache_location_kind,
    open_layer_cache,
)
from cachelab.oci.errors import InvalidReference


@pytest.mark.parametrize(("location", "expected"), [
    ("oci:/tmp/kaniko-cache", KANIKO_LAYOUT),
    ("oci:relative/cache", KANIKO_LAYOUT),
    ("newcache", LAYOUT_STORE),
    ("team/cache", LAYOUT_STORE),
    ("my.cache", LAYOUT_STORE),
    ("localhost", LAYOUT_STORE),
    ("/abs/cache", LAYOUT_STORE),
    ("./cache", LAYOUT_STORE),
    ("../cache", LAYOUT_STORE),
    ("./host.example.com/cache", LAYOUT_STORE),
    ("127.0.0.1:5000/cache", REGISTRY_REPOSITORY),
    ("registry.example.com/team/cache", REGISTRY_REPOSITORY),
    ("localhost/cache", REGISTRY_REPOSITORY),
    ("localhost:5000/cache", REGISTRY_REPOSITORY),
    ("[::1]:5000/cache", REGISTRY_REPOSITORY),
])
def test_location_kinds(location: str, expected: str) -> None:
    assert cache_location_kind(location) == expected


def test_existing_directory_is_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "build.d" / "cache").mkdir(parents=True)

    assert cache_location_kind("build.d/cache") == LAYOUT_STORE
    assert cache_location_kind("build.d/other") == REGISTRY_REPOSITORY


@pytest.mark.parametrize("location", ["localhost:5000", "127.0.0.1:5000", "registry.example.com:443"])
def test_host_without_repository_rejected(location: str) -> None:
    with pytest.raises(InvalidReference) as raised:
        cache_location_kind(location)

    assert "names a registry host but no repository" in raised.value.reason
    assert f"./{location}" in raised.value.reason


@pytest.mark.parametrize("location", ["", "  "])
def test_empty_location_rejected(location: str) -> None:
    with pytest.raises(InvalidReference):
        cache_location_kind(location)


def test_bare_name_opens_layout_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    cache = open_layer_cache("newcache")

    assert isinstance(cache, LayoutLayerCache)
    assert cache.store.path.resolve() == tmp_path / "newcache"
