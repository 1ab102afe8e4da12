"""Layers no later step reads: tarred to count their bytes, never compressed or stored."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

import cachelab.oci.layers
from cachelab.build.config import ImageConfig
from cachelab.build.errors import BuildError
from cachelab.build.output_image import assemble
from cachelab.build.stage_image import DISCARDED, ImageLayer, StageImage
from tests.fixtures.builder import ExampleBuilder

SMALL_THREE_STAGE = {"52428800": "1048576"}

MakeBuilder = Callable[..., ExampleBuilder]


@pytest.fixture
def writers(monkeypatch: pytest.MonkeyPatch) -> list[cachelab.oci.layers.LayerWriter]:
    """Collect every LayerWriter that writes into a build's work directory.

    Importing busybox into a fresh image store also makes one, elsewhere.
    """
    made: list[cachelab.oci.layers.LayerWriter] = []
    original = cachelab.oci.layers.LayerWriter

    class RecordingWriter(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            if "cachelab-build-" in self.path:
                made.append(self)

    monkeypatch.setattr(cachelab.oci.layers, "LayerWriter", RecordingWriter)
    return made


def test_no_cache_compresses_only_final_stage(
    builder: MakeBuilder, writers: list[cachelab.oci.layers.LayerWriter],
) -> None:
    example = builder("three-stage", replace=SMALL_THREE_STAGE)

    built = example.build("no-cache")

    # gen and mid are read only through their saved files, so only the final
    # stage's COPY and RUN layers are compressed.
    assert len(writers) == 2
    assert len(built.layer_digests) == 3  # busybox's layer, COPY, RUN
    for digest in built.layer_digests:
        assert digest.startswith("sha256:") and len(digest) == 71
    assert built.span_bytes("snapshot", 0) > 1_048_576
    assert built.span_bytes("snapshot", 1) > 1_048_576


def test_discarded_snapshot_bytes_match_kept(builder: MakeBuilder, cache_location: str) -> None:
    example = builder("three-stage", cache=cache_location, replace=SMALL_THREE_STAGE)

    discarded = example.build("no-cache")
    kept = example.build("per-stage")

    # The cold per-stage build pushes, so it compresses every layer; the tar
    # sizes it records are those the no-cache build records without compressing.
    assert kept.decisions(0) == ["miss"]
    for stage_index in (0, 1, 2):
        assert discarded.span_bytes("snapshot", stage_index) == kept.span_bytes("snapshot", stage_index)


def test_from_base_layers_kept(builder: MakeBuilder, writers: list[cachelab.oci.layers.LayerWriter]) -> None:
    example = builder("two-stage")

    built = example.build("no-cache")

    # `base` is the final stage's FROM base, so its RUN layer is part of the image.
    assert len(writers) == 3
    assert len(built.layer_digests) == 4  # busybox's layer, base's RUN, COPY, RUN
    for digest in built.layer_digests:
        assert digest.startswith("sha256:") and len(digest) == 71


def test_writing_discarded_layer_raises() -> None:
    image = StageImage(config=ImageConfig())
    image.layers.append(ImageLayer("", "", 0, "", lambda: io.BytesIO(), origin=DISCARDED))

    with pytest.raises(BuildError, match="counted but not kept"):
        assemble(image)
