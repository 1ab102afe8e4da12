"""Speed of `scan_layer`, which `image inspect` and `image diff` run once per layer.

Run with `python -m pytest tests/bench/test_inspect_bench.py --benchmark-enable`.
The baseline only decompresses the blob and hashes the tar, the least any scan
must do. The scans add tar parsing and, for diff, hashing file contents. With benchmarks enabled the layer has about 200 MiB of files; with
them disabled, as in the normal suite, a 4 MiB layer only checks each path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cachelab.oci.compression import open_decompressed
from cachelab.oci.layers import write_layer
from cachelab.oci.tarindex import TarEntry, scan_layer
from tests.bench.test_unpack_bench import FULL_SIZE, SMOKE_SIZE, benchmarks_enabled, write_tar

READ_SIZE = 1 << 20


@pytest.fixture(scope="module")
def layer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("inspect-bench")
    tar = directory / "layer.tar"
    write_tar(tar, FULL_SIZE if benchmarks_enabled(request.config) else SMOKE_SIZE)
    blob = write_layer(tar, "gzip", directory=directory)
    return Path(blob.path), blob.diff_id


def _decompress_and_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as raw, open_decompressed(raw) as stream:
        while chunk := stream.read(READ_SIZE):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def test_bench_decompress_baseline(benchmark, layer: tuple[Path, str]) -> None:  # type: ignore[no-untyped-def]
    path, diff_id = layer

    assert benchmark(_decompress_and_hash, path) == diff_id


@pytest.mark.parametrize("hash_content", [False, True], ids=["entries", "entries+content"])
def test_bench_scan_layer(benchmark, layer: tuple[Path, str], hash_content: bool) -> None:  # type: ignore[no-untyped-def]
    path, diff_id = layer

    def scan() -> tuple[str, int]:
        seen: list[TarEntry] = []
        with open(path, "rb") as blob:
            result = scan_layer(blob, visit=seen.append, hash_content=hash_content)
        return result.diff_id, len(seen)

    found_diff_id, entries = benchmark(scan)

    assert found_diff_id == diff_id
    assert entries > 0
