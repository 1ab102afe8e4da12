"""A base image whose layer would escape the stage root: the build names the image."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.build.builder import build
from cachelab.build.request import BuildRequest
from cachelab.oci.errors import UnsafeLayerError
from tests.fixtures.registry import RegistryServer
from tests.inspect.synthetic import entry, write_image


def test_unsafe_base_layer_names_image(tmp_path: Path, registry: RegistryServer) -> None:
    reference = f"{registry.address}/hostile/base:1"
    write_image(reference, [[entry("link", "symlink", link="../../outside")]])
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {reference}\nRUN true\n")
    request = BuildRequest(dockerfile, context, strategy="no-cache", image_store=str(tmp_path / "images"))

    with pytest.raises(UnsafeLayerError) as caught:
        build(request, progress=False)

    assert caught.value.image == reference
    assert reference in str(caught.value)
    assert not (tmp_path / "outside").exists()
