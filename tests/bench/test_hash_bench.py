"""Context hashing throughput against raw MD5 on the same bytes (run with --benchmark-enable).

With benchmarks enabled the tree is 10,000 files of about 105 KiB (1 GiB) in
100 directories, read from the page cache after a warm-up pass. The baseline
hashes the same bytes with `hashlib.md5` from memory on one thread. The key
engine walks, stats, reads and hashes them kaniko's way, with several threads
for large files. Compare the two `min` columns of the `context-hash`
group. With benchmarks disabled (the normal test run) a small tree only checks
that both paths run and agree on the byte count.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cachelab.keys.filehash import HashStats, directory_part

FULL_FILES = 10_000
FULL_BYTES = 1 << 30
SMALL_FILES = 200
SMALL_BYTES = 4 << 20
DIRECTORIES = 100


def build_tree(root: Path, files: int, total_bytes: int) -> int:
    """Write `files` files of random bytes totalling about `total_bytes`; return the total."""
    size = total_bytes // files
    block = os.urandom(size)
    written = 0
    per_directory = max(1, files // DIRECTORIES)
    for index in range(files):
        directory = root / f"d{index // per_directory:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        # Rotate the block so every file has different content.
        shift = index % size
        (directory / f"f{index:05d}.bin").write_bytes(block[shift:] + block[:shift])
        written += size
    return written


@pytest.fixture(scope="module")
def tree(request, tmp_path_factory) -> tuple[Path, int]:
    config = request.config
    enabled = config.getoption("benchmark_enable", False) or not config.getoption(
        "benchmark_disable", False
    )
    files, total = (FULL_FILES, FULL_BYTES) if enabled else (SMALL_FILES, SMALL_BYTES)
    root = tmp_path_factory.mktemp("hash-bench")
    written = build_tree(root, files, total)
    os.sync()  # finish write-back before anything is timed
    return root, written


def read_all(root: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted(root.rglob("*.bin"))]


@pytest.mark.benchmark(group="context-hash")
def test_directory_hash_throughput(benchmark, tree):
    root, written = tree
    directory_part(str(root), context_root=str(root))  # warm the page cache

    def hash_tree() -> HashStats:
        stats = HashStats()
        directory_part(str(root), context_root=str(root), stats=stats)
        return stats

    stats = benchmark.pedantic(hash_tree, rounds=5, iterations=1)

    assert stats.bytes_hashed == written
    if benchmark.stats is not None:
        benchmark.extra_info["mb_per_second_best"] = round(written / benchmark.stats.stats.min / 1e6)


@pytest.mark.benchmark(group="context-hash")
def test_raw_md5_baseline(benchmark, tree):
    root, written = tree
    blobs = read_all(root)

    def hash_blobs() -> int:
        total = 0
        for blob in blobs:
            hashlib.md5(blob).hexdigest()
            total += len(blob)
        return total

    total = benchmark.pedantic(hash_blobs, rounds=5, iterations=1)

    assert total == written
    if benchmark.stats is not None:
        benchmark.extra_info["mb_per_second_best"] = round(written / benchmark.stats.stats.min / 1e6)
