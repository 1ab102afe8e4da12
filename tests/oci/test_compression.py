from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from cachelab.oci import mediatypes
from cachelab.oci.compression import Compressor, open_decompressed, sniff
from cachelab.oci.layers import write_layer

DATA = b"layer-bytes " * 50_000 + os.urandom(200_000)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "zstd": zstandard.ZstdCompressor().compress,
    "none": bytes,
}


# Parameters are names, not blobs, so every pytest-xdist worker collects the same test ids.
@pytest.mark.parametrize("kind", list(COMPRESSORS))
def test_open_decompressed_sniffs_magic(kind: str) -> None:
    blob = COMPRESSORS[kind](DATA)

    assert sniff(blob[:4]) == kind
    assert open_decompressed(io.BytesIO(blob)).read() == DATA


def test_gzip_concatenated_members() -> None:
    blob = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])
    assert open_decompressed(io.BytesIO(blob)).read() == DATA


def test_zstd_multiple_frames() -> None:
    compressor = zstandard.ZstdCompressor()
    blob = compressor.compress(DATA[:1000]) + compressor.compress(DATA[1000:])
    assert open_decompressed(io.BytesIO(blob)).read() == DATA


def test_truncated_gzip_raises() -> None:
    with pytest.raises(EOFError):
        open_decompressed(io.BytesIO(gzip.compress(DATA)[:-50])).read()


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_compressor_round_trip(compression: str) -> None:
    compressor = Compressor(compression)
    blob = compressor.compress(DATA) + compressor.flush()
    assert open_decompressed(io.BytesIO(blob)).read() == DATA


def test_compressor_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="brotli"):
        Compressor("brotli")


def _tar_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("data.bin")
        info.size = len(DATA)
        archive.addfile(info, io.BytesIO(DATA))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("compression", "docker", "media_type"),
    [
        ("gzip", False, mediatypes.OCI_LAYER_GZIP),
        ("gzip", True, mediatypes.DOCKER_LAYER_GZIP),
        ("zstd", False, mediatypes.OCI_LAYER_ZSTD),
        ("none", False, mediatypes.OCI_LAYER),
    ],
)
def test_write_layer_digest_and_diff_id(tmp_path, compression: str, docker: bool, media_type: str) -> None:
    tar = _tar_bytes()
    source = tmp_path / "layer.tar"
    source.write_bytes(tar)

    layer = write_layer(source, compression, directory=tmp_path, docker=docker)

    blob = Path(layer.path).read_bytes()
    assert layer.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()
    assert layer.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert layer.size == len(blob)
    assert layer.media_type == media_type
    assert open_decompressed(io.BytesIO(blob)).read() == tar


def test_write_layer_from_stream(tmp_path) -> None:
    tar = _tar_bytes()
    layer = write_layer(io.BytesIO(tar), "zstd", directory=tmp_path)
    assert layer.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()
    assert sniff(Path(layer.path).read_bytes()[:4]) == "zstd"
