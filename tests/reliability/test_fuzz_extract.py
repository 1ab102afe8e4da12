"""Mutated layer tars through `extract_layer`: nothing escapes the root, errors are documented.

Each example extracts an unmutated seed layer and then a mutated one into the
same root, so the second layer meets the first one's symlinks. A sentinel
directory lies next to the root. After every example it must be exactly as it
was, and the root's parent must contain nothing new.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachelab.oci._files import VerifyingReader, sha256_digest
from cachelab.oci.errors import DigestMismatch, InvalidLayerError, UnsafeLayerError
from cachelab.oci.extract import extract_layer
from tests.reliability.tally import TALLY
from tests.reliability.tarseeds import seed_tars

pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")

SEEDS = seed_tars()
DOCUMENTED_ERRORS = (UnsafeLayerError, InvalidLayerError)
SENTINEL = b"sentinel content\n"


@st.composite
def mutated_tar(draw: st.DrawFn) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        if not data:
            break
        position = draw(st.integers(min_value=0, max_value=len(data) - 1))
        kind = draw(st.sampled_from(["flip", "truncate", "repeat-block", "zero", "insert", "name"]))
        if kind == "flip":
            data[position] ^= draw(st.integers(min_value=1, max_value=255))
        elif kind == "truncate":
            del data[position:]
        elif kind == "repeat-block":
            start = position - position % 512
            data[start:start] = data[start:start + 512]
        elif kind == "zero":
            length = draw(st.integers(min_value=1, max_value=64))
            data[position:position + length] = bytes(len(data[position:position + length]))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        else:
            # Overwrite the start of a header's name field with a path fragment.
            start = position - position % 512
            fragment = draw(st.sampled_from([b"../", b"/", b"./../x", b".wh.", b".wh..wh..opq", b"a/../../"]))
            data[start:start + len(fragment)] = fragment
    return bytes(data)


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Map every path under `directory` to its content (None for non-files)."""
    found: dict[str, bytes | None] = {}
    for parent, directories, files in os.walk(directory):
        for name in directories + files:
            path = Path(parent, name)
            found[str(path)] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    return found


def extract_both(first: bytes, second: bytes) -> list[str]:
    """Extract two layers into a fresh root; return the outcomes and check for escapes."""
    with tempfile.TemporaryDirectory(prefix="fuzz-extract-") as scratch:
        base = Path(scratch)
        outside = base / "outside"
        outside.mkdir()
        (outside / "sentinel").write_bytes(SENTINEL)
        root = base / "root" / "inner"
        before = snapshot(outside)

        outcomes = []
        for index, layer in enumerate((first, second)):
            try:
                extract_layer(io.BytesIO(layer), root, layer_digest=f"sha256:{index:064x}", allow_devices=False)
                outcomes.append("ok")
            except DOCUMENTED_ERRORS as error:
                assert str(error)
                outcomes.append(type(error).__name__)

        TALLY["layer streams extracted"] += 2
        assert snapshot(outside) == before
        assert sorted(path.name for path in base.iterdir()) == ["outside", "root"]
        assert sorted(path.name for path in (base / "root").iterdir()) == ["inner"]
        return outcomes


def check_mutated_layer(first: str, second: bytes) -> None:
    extract_both(SEEDS[first], second)


test_mutated_layers_never_escape = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None,
)(given(first=st.sampled_from(sorted(SEEDS)), second=mutated_tar())(check_mutated_layer))

test_many_mutated_layers_never_escape = pytest.mark.slow(settings(
    max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None,
)(given(first=st.sampled_from(sorted(SEEDS)), second=mutated_tar())(check_mutated_layer)))


@pytest.mark.parametrize("name", sorted(name for name in SEEDS if name.startswith("hostile")))
def test_hostile_seed_rejected(name: str) -> None:
    outcomes = extract_both(SEEDS["ordinary.tar"], SEEDS[name])

    assert outcomes == ["ok", "UnsafeLayerError"]


def test_chained_symlinks_stay_inside() -> None:
    outcomes = extract_both(SEEDS["ordinary.tar"], SEEDS["chained.tar"])

    assert outcomes[0] == "ok"


@pytest.mark.parametrize(
    "data",
    [b"", b"not a tar at all" * 40, b"\x1f\x8b\x08\x00garbage", b"\x28\xb5\x2f\xfdgarbage",
     SEEDS["ordinary.tar.gz"][:-9]],
    ids=["empty", "text", "bad-gzip", "bad-zstd", "gzip-cut-short"],
)
def test_damaged_stream_is_invalid_layer(data: bytes, tmp_path: Path) -> None:
    try:
        extract_layer(io.BytesIO(data), tmp_path / "root", layer_digest="sha256:" + "ab" * 32)
    except InvalidLayerError as error:
        assert "sha256:" + "ab" * 32 in str(error)
        assert error.hint
    else:
        # An empty stream is an empty tar archive to tarfile.
        assert data == b""


def test_altered_download_is_digest_mismatch(tmp_path: Path) -> None:
    # The bytes were altered in transit. The verifying source's error must win
    # over the gzip error the altered bytes cause first, because it names the blob.
    original = SEEDS["ordinary.tar.gz"]
    altered = bytearray(original)
    altered[len(altered) // 2] ^= 0xFF
    source = VerifyingReader(io.BytesIO(bytes(altered)), sha256_digest(original), where="blob example/app@digest")

    with pytest.raises(DigestMismatch) as raised:
        extract_layer(source, tmp_path / "root", layer_digest=sha256_digest(original))  # type: ignore[arg-type]

    assert "blob example/app@digest" in str(raised.value)


def test_seeds_are_real_tars() -> None:
    with tarfile.open(fileobj=io.BytesIO(SEEDS["ordinary.tar"])) as archive:
        assert len(archive.getnames()) >= 8
