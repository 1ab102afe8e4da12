"""Snapshot speed: a full-walk layer tar of a tree, against GNU tar on the same tree.

Run with `python -m pytest tests/bench/test_snapshot_bench.py --benchmark-enable`.
With benchmarks enabled the tree has about 100 MiB in 5,000 files (200 B to
200 kB, seeded); disabled, as in the normal suite, a 2 MiB tree only checks
that each path runs. A third case measures the walk alone on an unchanged tree,
which is what every RUN without changes costs.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from cachelab.build.snapshot import Snapshotter

FULL_SIZE = 100 << 20
SMOKE_SIZE = 2 << 20
FILE_SIZES = (200, 2_000, 20_000, 200_000)


def benchmarks_enabled(config: pytest.Config) -> bool:
    # The suite's addopts disable benchmarks; --benchmark-enable overrides that.
    return bool(config.getoption("benchmark_enable", default=False)) or not config.getoption(
        "benchmark_disable", default=True
    )


def make_tree(root: Path, total: int) -> int:
    """Write seeded files below `root` until `total` bytes; return the file count."""
    generator = random.Random(20261204)
    written = 0
    count = 0
    while written < total:
        directory = root / f"d{count // 100:03d}" / f"s{count % 7}"
        directory.mkdir(parents=True, exist_ok=True)
        size = generator.choice(FILE_SIZES)
        (directory / f"f{count:05d}.bin").write_bytes(generator.randbytes(size))
        written += size
        count += 1
    return count


@pytest.fixture(scope="module")
def tree(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("snapshot-tree")
    make_tree(root, FULL_SIZE if benchmarks_enabled(request.config) else SMOKE_SIZE)
    return root


def test_full_snapshot(benchmark, tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    layer = tmp_path / "layer.tar"

    def snapshot_everything() -> int:
        return Snapshotter(str(tree), state={}).take(layer).entries

    entries = benchmark(snapshot_everything)

    assert entries > 0


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs GNU tar")
def test_gnu_tar_reference(benchmark, tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    layer = tmp_path / "layer.tar"

    def gnu_tar() -> None:
        subprocess.run(
            ["tar", "--format=pax", "--sort=name", "-cf", str(layer), "-C", str(tree), "."],
            check=True,
        )

    benchmark(gnu_tar)

    assert os.path.getsize(layer) > 0


def test_unchanged_walk(benchmark, tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    snapshotter = Snapshotter(str(tree))
    layer = tmp_path / "empty.tar"

    snapshot = benchmark(snapshotter.take, layer)

    assert snapshot.changes.empty
