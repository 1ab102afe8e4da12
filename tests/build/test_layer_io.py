"""LayerMover: blobs of local stores are hard-linked, verified when unpacked, and never truncated."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from cachelab.build.layer_io import LayerMover
from cachelab.build.stage_image import ImageLayer
from cachelab.events import ListSink, SpanRecorded
from cachelab.events.spans import SpanClock
from cachelab.oci import mediatypes
from cachelab.oci.errors import DigestMismatch
from cachelab.oci.layout import LayoutStore


def _layer_blob() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("hello.txt")
        content = b"hello from a stored layer\n"
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return gzip.compress(buffer.getvalue())


def _stored_layer(store: LayoutStore, blob: bytes, *, linkable: bool = True) -> ImageLayer:
    digest, size = store.write_blob(blob)
    path = store.blob_path(digest)
    return ImageLayer(
        digest, "", size, mediatypes.OCI_LAYER_GZIP, lambda: store.open_blob(digest), origin="cache",
        store_file=str(path) if linkable else None,
    )


@pytest.fixture
def mover(tmp_path: Path) -> tuple[LayerMover, ListSink]:
    sink = ListSink()
    blob_dir = tmp_path / "layers"
    blob_dir.mkdir()
    return LayerMover(SpanClock("build-1", sink), blob_dir), sink


def test_store_blob_linked_and_kept(tmp_path: Path, mover: tuple[LayerMover, ListSink]) -> None:
    layer_mover, sink = mover
    store = LayoutStore(tmp_path / "store")
    blob = _layer_blob()
    layer = _stored_layer(store, blob)

    # The same layer unpacked by three stages, as a base is.
    for index in range(3):
        root = tmp_path / f"root{index}"
        root.mkdir()
        local = layer_mover.unpack(layer, root)
        assert (root / "hello.txt").read_text() == "hello from a stored layer\n"
        assert local.path is not None
        assert os.stat(local.path).st_ino == os.stat(layer.store_file).st_ino  # type: ignore[arg-type]

    assert Path(layer.store_file).read_bytes() == blob  # type: ignore[arg-type]
    assert sorted(os.listdir(tmp_path / "layers")) == [layer.digest.replace(":", "-")]
    downloads = [event for event in sink.events if isinstance(event, SpanRecorded) and event.phase == "download"]
    assert [span.bytes for span in downloads] == [len(blob)] * 3


def test_copy_after_link_keeps_store_blob(tmp_path: Path, mover: tuple[LayerMover, ListSink]) -> None:
    layer_mover, _ = mover
    store = LayoutStore(tmp_path / "store")
    blob = _layer_blob()
    linked = _stored_layer(store, blob)
    copied = _stored_layer(store, blob, linkable=False)

    layer_mover.download(linked)
    local = layer_mover.download(copied)

    # The copy replaced the link's name with a new file instead of writing through it.
    assert os.stat(local.path).st_ino != os.stat(linked.store_file).st_ino  # type: ignore[arg-type]
    assert Path(linked.store_file).read_bytes() == blob  # type: ignore[arg-type]
    assert Path(local.path).read_bytes() == blob  # type: ignore[arg-type]


def test_linked_blob_verified_on_unpack(tmp_path: Path, mover: tuple[LayerMover, ListSink]) -> None:
    layer_mover, _ = mover
    store = LayoutStore(tmp_path / "store")
    layer = _stored_layer(store, _layer_blob())
    # Damage the stored blob after the digest was recorded: another valid gzip tar.
    damaged = gzip.compress(b"\0" * 1024)
    Path(layer.store_file).write_bytes(damaged)  # type: ignore[arg-type]
    root = tmp_path / "root"
    root.mkdir()

    with pytest.raises(DigestMismatch):
        layer_mover.unpack(layer, root)
