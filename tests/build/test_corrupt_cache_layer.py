"""A cache hit whose layer blob is corrupted in the cache store: the error names the store, the entry and the line."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cachelab.build.builder import build
from cachelab.build.cached_layer import KANIKO_LAYOUT, LAYOUT, REGISTRY, CorruptCachedLayer
from cachelab.build.request import BuildRequest
from cachelab.build.stores import cache_store_of
from cachelab.cli import main
from cachelab.oci.layout import LayoutStore
from tests.fixtures.builder import build_text
from tests.fixtures.registry import RegistryServer

# The RUN on line 2 is a hit on the rebuild, and its files are read because `COPY --from` needs them.
TEXT = "FROM busybox AS gen\nRUN echo {token} > /made\nFROM busybox\nCOPY --from=gen /made /made\n"


def _build_with_cache(tmp_path: Path, image_store: Path, text: str, cache: str) -> None:
    (tmp_path / "Dockerfile").write_text(text)
    (tmp_path / "context").mkdir(exist_ok=True)
    request = BuildRequest(tmp_path / "Dockerfile", tmp_path / "context", strategy="per-stage", cache=cache,
                           image_store=str(image_store))
    build(request, progress=False)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _layer_blobs(store: Path) -> list[Path]:
    """Return the gzip blobs of a layout store: the cached layers, not manifests or configs."""
    return [path for path in (store / "blobs" / "sha256").iterdir() if path.read_bytes()[:2] == b"\x1f\x8b"]


def test_corrupt_layout_blob_named(tmp_path: Path, image_store: Path) -> None:
    text = TEXT.format(token=uuid.uuid4().hex)
    build_text(tmp_path, image_store, text)
    cache = tmp_path / "cache"
    blobs = _layer_blobs(cache)
    assert len(blobs) == 1  # the RUN layer; kaniko does not cache a COPY --from
    for blob in blobs:
        _flip_byte(blob)

    with pytest.raises(CorruptCachedLayer) as caught:
        build_text(tmp_path, image_store, text)

    error = caught.value
    assert error.line == 2
    assert error.instruction is not None and error.instruction.startswith("RUN echo")
    assert error.hit.store == str(cache)
    assert error.hit.kind == LAYOUT
    assert LayoutStore(cache).find(error.hit.key) is not None
    assert error.blob_file is not None and Path(error.blob_file) in blobs
    assert f"cache store {cache}" in str(error)
    assert str(error).startswith(f"{tmp_path / 'Dockerfile'}:2: RUN echo")
    assert error.hint is not None and f"cachelab store check {cache}" in error.hint
    assert "--strategy no-cache" in error.hint


def test_corrupt_blob_cli_message(
    tmp_path: Path, image_store: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    text = TEXT.format(token=uuid.uuid4().hex)
    build_text(tmp_path, image_store, text)
    cache = tmp_path / "cache"
    for blob in _layer_blobs(cache):
        _flip_byte(blob)

    code = main([
        "build", str(tmp_path / "Dockerfile"), "--context", str(tmp_path / "context"), "--quiet",
        "--strategy", "per-stage", "--image-store", str(image_store), "--cache-repo", str(cache),
    ])

    err = capsys.readouterr().err
    assert code == 1
    assert "Dockerfile:2: RUN echo" in err
    assert f"cache store {cache}" in err
    assert "cachelab-build-" not in err  # the build's scratch directory is gone by then


def test_corrupt_registry_blob_named(tmp_path: Path, image_store: Path, registry: RegistryServer) -> None:
    text = TEXT.format(token=uuid.uuid4().hex)
    repository = f"corrupt-{uuid.uuid4().hex[:8]}"
    location = f"{registry.address}/{repository}"
    _build_with_cache(tmp_path, image_store, text, location)
    links = (registry.storage / "docker" / "registry" / "v2" / "repositories" / repository / "_layers").rglob("link")
    blobs = []
    for link in links:
        hex_digest = link.read_text().removeprefix("sha256:")
        [data] = registry.storage.rglob(f"blobs/sha256/{hex_digest[:2]}/{hex_digest}/data")
        if data.read_bytes()[:2] == b"\x1f\x8b":
            blobs.append(data)
    assert len(blobs) == 1  # the RUN layer; the rest are configs
    _flip_byte(blobs[0])

    with pytest.raises(CorruptCachedLayer) as caught:
        _build_with_cache(tmp_path, image_store, text, location)

    error = caught.value
    assert error.line == 2
    assert error.hit.store == location
    assert error.hit.kind == REGISTRY
    assert error.blob_file is None
    assert error.hint is not None and f"tag {error.hit.key} from {location}" in error.hint


@pytest.mark.parametrize(("location", "expected"), [
    ("oci:/tmp/kaniko-cache", ("oci:/tmp/kaniko-cache", KANIKO_LAYOUT)),
    ("/tmp/layer-cache", ("/tmp/layer-cache", LAYOUT)),
    ("./layer-cache", ("./layer-cache", LAYOUT)),
    ("127.0.0.1:5000/cache", ("127.0.0.1:5000/cache", REGISTRY)),
])
def test_cache_store_kinds(location: str, expected: tuple[str, str]) -> None:
    assert cache_store_of(location) == expected
