"""LayerWriter: a tar compressed and hashed as it streams in, on the threaded and the inline path."""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
from pathlib import Path

import pytest

from cachelab.oci import mediatypes
from cachelab.oci.compression import open_decompressed
from cachelab.oci.errors import DigestMismatch
from cachelab.oci.image import Blob, LayoutImageSource
from cachelab.oci.layers import CHUNK_SIZE, LayerWriter
from cachelab.oci.layout import LayoutStore
from cachelab.oci.manifest import build_manifest


def _payload(size: int) -> bytes:
    # Half repetitive, half random, so the compressed size differs from the input size.
    half = size // 2
    return (b"cachelab " * (half // 9 + 1))[:half] + os.urandom(size - half)


def _write_in_pieces(writer: LayerWriter, data: bytes, sizes: list[int]) -> None:
    position = 0
    index = 0
    while position < len(data):
        step = sizes[index % len(sizes)]
        writer.write(data[position:position + step])
        position += step
        index += 1


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
@pytest.mark.parametrize("total", [0, 1000, 3 * CHUNK_SIZE + 12_345])
def test_layer_writer_digests(tmp_path: Path, compression: str, total: int) -> None:
    data = _payload(total)

    with LayerWriter(compression, directory=tmp_path) as writer:
        # Small and large writes mixed, as tarfile makes them: headers, then content.
        _write_in_pieces(writer, data, [512, CHUNK_SIZE, 7, 2 * CHUNK_SIZE + 3])
        layer = writer.finish()

    blob = Path(layer.path).read_bytes()
    assert writer.tar_size == total
    assert layer.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert layer.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert layer.size == len(blob)
    with open(layer.path, "rb") as stream:
        assert open_decompressed(stream).read() == data


def test_layer_writer_media_type(tmp_path: Path) -> None:
    with LayerWriter("gzip", directory=tmp_path, docker=True) as writer:
        layer = writer.finish()

    assert layer.media_type == mediatypes.DOCKER_LAYER_GZIP
    assert gzip.decompress(Path(layer.path).read_bytes()) == b""


def test_layer_writer_error_removes_blob(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), LayerWriter("gzip", directory=tmp_path) as writer:
        writer.write(_payload(2 * CHUNK_SIZE))
        raise RuntimeError("snapshot failed")

    assert list(tmp_path.iterdir()) == []


def test_layer_writer_thread_error_raised(tmp_path: Path) -> None:
    writer = LayerWriter("none", directory=tmp_path)
    writer.write(_payload(CHUNK_SIZE))  # starts the threads
    os.close(writer._out.fileno())  # the blob thread's next write fails

    with pytest.raises(OSError), writer:
        for _ in range(20):
            writer.write(_payload(CHUNK_SIZE))
        writer.finish()

    assert list(tmp_path.iterdir()) == []


def _built_layer(tmp_path: Path, data: bytes) -> tuple[str, str, int]:
    with LayerWriter("gzip", directory=tmp_path) as writer:
        writer.write(data)
        layer = writer.finish()
    return layer.path, layer.digest, layer.size


def test_link_blob_file_shares_inode(tmp_path: Path) -> None:
    path, digest, size = _built_layer(tmp_path, _payload(CHUNK_SIZE + 1))
    store = LayoutStore(tmp_path / "store")

    assert store.link_blob_file(path, digest) == size

    stored = store.blob_path(digest)
    assert os.stat(stored).st_ino == os.stat(path).st_ino
    assert oct(os.stat(stored).st_mode & 0o777) == oct(0o644)
    assert [name for name in os.listdir(stored.parent) if name.startswith(".")] == []


def test_link_blob_file_copies_across_devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, digest, size = _built_layer(tmp_path, b"layer content")
    store = LayoutStore(tmp_path / "store")

    def cross_device(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)

    assert store.link_blob_file(path, digest) == size
    assert os.stat(store.blob_path(digest)).st_ino != os.stat(path).st_ino
    assert store.blob_path(digest).read_bytes() == Path(path).read_bytes()
    # A copy is verified, so a wrong digest is caught on that path.
    with pytest.raises(DigestMismatch):
        store.link_blob_file(path, "sha256:" + "0" * 64)


def test_layout_write_image_links_path_blobs(tmp_path: Path) -> None:
    path, digest, size = _built_layer(tmp_path, _payload(1000))
    layer_blob = Blob(digest, size, mediatypes.OCI_LAYER_GZIP, lambda: open(path, "rb"), path)
    config = Blob.from_bytes(b"{}", mediatypes.OCI_CONFIG)
    manifest, media_type = build_manifest(b"{}", [layer_blob.descriptor()])
    source = LayoutImageSource(LayoutStore(tmp_path / "store"))

    source.write_image(manifest, media_type, [layer_blob, config], tag="latest")

    assert os.stat(source.store.blob_path(digest)).st_ino == os.stat(path).st_ino
    assert source.store.read_blob(config.digest) == b"{}"
