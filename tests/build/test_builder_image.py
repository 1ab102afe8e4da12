"""The built image: written to a layout store or a registry, unpacked, and run in the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cachelab.build.builder import build
from cachelab.build.request import BuildRequest, BuildResult
from cachelab.build.sandbox import RunRequest, Sandbox
from cachelab.oci.extract import extract_layer
from cachelab.oci.image import ImageResolver
from cachelab.oci.layout import LayoutStore
from tests.fixtures.builder import ExampleBuilder
from tests.fixtures.registry import RegistryServer

MakeBuilder = Callable[..., ExampleBuilder]


def _pull_and_unpack(reference: str, root: Path) -> tuple[str, dict[str, object]]:
    """Unpack the image at `reference` into `root`; return its manifest digest and config."""
    resolver = ImageResolver()
    try:
        image = resolver.image(reference)
        for layer in image.layers():
            with layer.open() as blob:
                extract_layer(blob, root, layer_digest=layer.digest)
        return image.manifest_digest, image.config_json
    finally:
        resolver.close()


def _run(root: Path, *argv: str) -> tuple[int, list[str]]:
    result = Sandbox().run(root, RunRequest(argv=argv, env=("PATH=/bin:/usr/bin",)))
    return result.exit_code, result.output_tail


def test_layout_image_runs(builder: MakeBuilder, tmp_path: Path) -> None:
    destination = tmp_path / "out"
    example = builder("two-stage")
    built = example.build("lookahead", destination=f"oci:{destination}:two-stage")

    assert LayoutStore(destination).check() == []
    digest, _ = _pull_and_unpack(f"oci:{destination}:two-stage", tmp_path / "root")
    assert digest == built.result.image_digest
    code, output = _run(tmp_path / "root", "ls", "/blubb")
    assert code == 0
    assert output == ["/blubb"]


def test_warm_image_runs_without_unpacking(builder: MakeBuilder, tmp_path: Path) -> None:
    destination = tmp_path / "out"
    example = builder("two-stage")
    example.build("lookahead")
    warm = example.build("lookahead", destination=f"oci:{destination}:warm")

    assert warm.span_bytes("unpack") == 0
    _pull_and_unpack(f"oci:{destination}:warm", tmp_path / "root")
    code, output = _run(tmp_path / "root", "ls", "/blubb")
    assert (code, output) == (0, ["/blubb"])


def test_registry_image_runs(builder: MakeBuilder, registry: RegistryServer, tmp_path: Path) -> None:
    reference = f"{registry.address}/built/from-chain:latest"
    example = builder("from-chain", cache=f"{registry.address}/from-chain-cache")
    built = example.build("per-stage", destination=reference)

    digest, config = _pull_and_unpack(reference, tmp_path / "root")
    assert digest == built.result.image_digest
    container = config["config"]
    assert isinstance(container, dict)
    assert container["Cmd"] == ["cat", "/opt/app/out.txt"]
    code, output = _run(tmp_path / "root", *container["Cmd"])
    assert code == 0
    assert output


def test_image_config_lists_every_layer(builder: MakeBuilder) -> None:
    example = builder("fan-in")
    built = example.build("lookahead")

    image = built.result.image
    assert image is not None
    config = json.loads(image.config)
    assert config["rootfs"]["diff_ids"] == [layer.diff_id for layer in image.layers]
    history = config["history"]
    assert sum(1 for entry in history if not entry.get("empty_layer")) == len(image.layers)
    assert history[-1]["created_by"] == "RUN ls -R /srv > /srv/index.txt"


@pytest.mark.parametrize("strategy", ["per-stage", "lookahead"])
def test_child_of_pushed_image_hits_after_repush(
    strategy: str, registry: RegistryServer, image_store: Path, tmp_path: Path,
) -> None:
    base_ref = f"{registry.address}/app-base-{strategy}:1"
    (tmp_path / "Dockerfile").write_text("FROM busybox\nWORKDIR /app\nRUN echo hello > /app/hello.txt\n")
    (tmp_path / "Dockerfile.child").write_text(f"FROM {base_ref}\nRUN cat /app/hello.txt > /app/child.txt\n")
    (tmp_path / "context").mkdir()
    cache = f"{registry.address}/cache-{strategy}"

    def run(dockerfile: str, destination: str | None = None) -> BuildResult:
        request = BuildRequest(
            tmp_path / dockerfile, tmp_path / "context", strategy=strategy, cache=cache,
            destination=destination, image_store=str(image_store),
        )
        return build(request, progress=False)

    first_base = run("Dockerfile", base_ref)
    first_child = run("Dockerfile.child")
    second_base = run("Dockerfile", base_ref)
    second_child = run("Dockerfile.child")

    assert [i.decision for i in first_child.stages[0].instructions] == ["miss"]
    assert [i.decision for i in second_base.stages[0].instructions] == ["hit", "hit"]
    # The base was pushed again with new timestamps, so its manifest digest moved,
    # but kaniko's seed ignores them: the child's key stays and hits.
    assert second_base.image_digest != first_base.image_digest
    assert [i.decision for i in second_child.stages[0].instructions] == ["hit"]
    assert second_child.stages[0].instructions[0].key == first_child.stages[0].instructions[0].key


def test_warm_image_mounts_cached_layers(builder: MakeBuilder, registry: RegistryServer, tmp_path: Path) -> None:
    example = builder("two-stage", cache=f"{registry.address}/mount-cache")
    example.build("lookahead")
    warm = example.build("lookahead", destination=f"{registry.address}/mounted/two-stage:warm")

    pushes = [span for span in warm.spans if span.phase == "push-image"]
    assert len(pushes) == 1
    # The stage layers come from the cache repository on the same registry. Two of
    # them are one blob (RUN touch /blubb and the COPY of /blubb), so it is mounted
    # once and then exists. The base comes from the local image store: uploaded.
    assert pushes[0].attributes["layers_mounted"] == "2"
    assert pushes[0].attributes["layers_exists"] == "1"
    assert pushes[0].attributes["layers_uploaded"] == "1"
    _pull_and_unpack(f"{registry.address}/mounted/two-stage:warm", tmp_path / "root")
    assert _run(tmp_path / "root", "ls", "/blubb") == (0, ["/blubb"])
