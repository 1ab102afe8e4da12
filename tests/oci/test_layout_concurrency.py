"""A layout store that several processes create, tag into and read at the same time."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from cachelab.oci import layout as layout_module
from cachelab.oci import mediatypes
from cachelab.oci.layout import LayoutStore
from cachelab.oci.manifest import Descriptor, build_manifest

# Stores of the stress test. Every worker creates or reads each of them at
# once, so each store is a new chance for a read between the creator's steps.
STORES = 40
WORKERS = 6


def _tag_image(store: LayoutStore, tag: str) -> str:
    payload = tag.encode()
    layer_digest, layer_size = store.write_blob(payload)
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [layer_digest]}}).encode()
    store.write_blob(config)
    manifest, media_type = build_manifest(config, [Descriptor(mediatypes.OCI_LAYER, layer_digest, layer_size)])
    return str(store.put_manifest(manifest, media_type, tag=tag)["digest"])


def test_reader_between_create_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that runs while another process creates the store finds no store or a readable one."""
    path = tmp_path / "store"
    reader = LayoutStore(path)
    seen: list[tuple[str, bool, object]] = []
    original_write = layout_module.atomic_write

    def write_then_read(target: Path, chunks: Iterable[bytes], **options: object) -> tuple[str, int]:
        # Each read here plays another process's lookup between two of the creator's writes.
        result = original_write(target, chunks, **options)  # type: ignore[arg-type]
        seen.append((target.name, reader.exists(), reader.find("docker.io/library/busybox:latest")))
        return result

    monkeypatch.setattr(layout_module, "atomic_write", write_then_read)
    LayoutStore(path).ensure()

    assert [name for name, _, _ in seen] == ["index.json", "oci-layout"]
    assert seen[0][1] is False
    assert seen[-1][1] is True
    assert all(found is None for _, _, found in seen)


def test_damaged_store_repaired_by_ensure(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    _tag_image(store, "kept")
    (tmp_path / "index.json").unlink()

    store.ensure()

    assert store.tags() == []
    assert store.check() == []


def _create_and_read(root: str, worker: int, start: multiprocessing.synchronize.Barrier) -> None:
    start.wait(60)
    for number in range(STORES):
        store = LayoutStore(Path(root) / f"store-{number}")
        # Odd workers only read, as a build looking up its base does, and keep
        # reading until worker 0 has tagged, so they read while the store is
        # being created. Even workers write, as an import or a cache put does.
        if worker % 2 == 0:
            _tag_image(store, f"worker-{worker}")
            continue
        deadline = time.monotonic() + 60
        while store.find("worker-0") is None:
            assert time.monotonic() < deadline, f"worker 0 never tagged into {store.path}"


def test_concurrent_create_and_read(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    start = context.Barrier(WORKERS)
    workers = [context.Process(target=_create_and_read, args=(str(tmp_path), n, start)) for n in range(WORKERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)

    assert [worker.exitcode for worker in workers] == [0] * WORKERS
    for number in range(STORES):
        store = LayoutStore(tmp_path / f"store-{number}")
        assert sorted(store.tags()) == [f"worker-{n}" for n in range(0, WORKERS, 2)]
        assert store.check() == []
