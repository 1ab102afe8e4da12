"""Several `cachelab build` processes started together on an empty cache directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cachelab.oci.busybox import DEFAULT_BUSYBOX
from cachelab.oci.layout import LayoutStore
from tests.fixtures.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "datasets" / "examples" / "two-stage"
# Builds per round, and rounds, each on a new cache directory. Real builds
# hit a race only by chance, so tests/oci/test_layout_concurrency.py and
# tests/build/test_stores_concurrency.py force the interleavings themselves.
BUILDS = 6
ROUNDS = 2


@pytest.fixture(autouse=True)
def _needs_sandbox() -> None:
    if not shutil.which("bwrap"):
        pytest.skip("RUN needs bubblewrap (Debian: apt-get install bubblewrap)")
    if not Path(DEFAULT_BUSYBOX).is_file():
        pytest.skip(f"needs Debian's busybox-static at {DEFAULT_BUSYBOX}")


def _start_build(cache_home: Path) -> subprocess.Popen[str]:
    environment = {**os.environ, "CACHELAB_CACHE_DIR": str(cache_home)}
    command = [sys.executable, "-m", "cachelab", "build", str(EXAMPLE), "--strategy", "per-stage", "--quiet"]
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_builds_on_empty_cache_dir(tmp_path: Path, round_number: int) -> None:
    cache_home = tmp_path / f"cache-{round_number}"
    processes = [_start_build(cache_home) for _ in range(BUILDS)]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert out.startswith("sha256:")
    images = LayoutStore(cache_home / "images")
    assert images.check() == []
    assert "docker.io/library/busybox:latest" in images.tags()
    assert LayoutStore(cache_home / "layer-cache").check() == []
