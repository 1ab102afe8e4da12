"""Builds started together on an empty image store import busybox once."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from cachelab.build.images import BuildImages
from cachelab.oci.busybox import DEFAULT_BUSYBOX

WORKERS = 4


def _resolve_busybox(store: str, start: multiprocessing.synchronize.Barrier,
                     digests: multiprocessing.queues.Queue) -> None:  # type: ignore[type-arg]
    images = BuildImages(Path(store))
    imports = 0
    original = images._import_busybox

    def counting(tag: str) -> None:
        nonlocal imports
        imports += 1
        original(tag)

    images._import_busybox = counting  # type: ignore[method-assign]
    start.wait(60)
    try:
        base = images.base("busybox")
        digests.put((imports, base.image.manifest_digest))
    finally:
        images.close()


@pytest.mark.skipif(not os.path.isfile(DEFAULT_BUSYBOX), reason=f"needs {DEFAULT_BUSYBOX} (busybox-static)")
def test_concurrent_builds_import_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    start = context.Barrier(WORKERS)
    digests = context.Queue()
    workers = [
        context.Process(target=_resolve_busybox, args=(str(tmp_path / "images"), start, digests))
        for _ in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)

    assert [worker.exitcode for worker in workers] == [0] * WORKERS
    results = [digests.get(timeout=10) for _ in range(WORKERS)]
    assert sum(imports for imports, _ in results) == 1
    assert len({digest for _, digest in results}) == 1
