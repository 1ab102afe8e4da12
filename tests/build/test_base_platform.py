"""A base image for another platform than the build's: RUN fails early, other stages warn.

The images are the host's busybox re-labelled: the same layer under a config
that says linux/arm64/v8, and an index that lists only the linux/amd64
manifest. This machine's busybox is linux/amd64 on x86-64 hosts, which the
tests that depend on it check first.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cachelab.build.base_platform import ConfigPlatform, label_platform, stages_running_commands
from cachelab.build.builder import build
from cachelab.build.config import ImageConfig
from cachelab.build.errors import PlatformMismatch
from cachelab.build.images import BuildImages
from cachelab.build.request import BuildRequest
from cachelab.cli import main
from cachelab.dockerfile import parse_dockerfile
from cachelab.events import ListSink, StageRecorded
from cachelab.oci import mediatypes
from cachelab.oci.copy import copy_image
from cachelab.oci.errors import ManifestNotFound
from cachelab.oci.layout import LayoutStore
from cachelab.oci.manifest import Platform
from cachelab.plan.stages import Command, PlanStage
from tests.fixtures.registry import RegistryServer

BUSYBOX = "docker.io/library/busybox:latest"
ARM_IMAGE = "docker.io/library/armbox:latest"
AMD64_INDEX = "docker.io/library/amd64-only:latest"
ARM_LAYOUT_TAG = "armbox"


@pytest.fixture
def platform_store(image_store: Path, tmp_path: Path) -> Path:
    """A local image store with busybox, busybox labelled linux/arm64/v8, and an amd64-only index."""
    store_path = tmp_path / "images"
    images = BuildImages(store_path)
    try:
        images.base("busybox")
    finally:
        images.close()
    store = LayoutStore(store_path)
    descriptor = store.find(BUSYBOX)
    assert descriptor is not None
    manifest = json.loads(store.read_blob(descriptor["digest"]))
    config = json.loads(store.read_blob(manifest["config"]["digest"]))
    if (config.get("os"), config.get("architecture")) != ("linux", "amd64"):
        pytest.skip(f"the host's busybox is {config.get('os')}/{config.get('architecture')}, not linux/amd64")

    config.update(architecture="arm64", variant="v8")
    digest, size = store.write_blob(json.dumps(config).encode())
    manifest["config"] = {**manifest["config"], "digest": digest, "size": size}
    arm_descriptor = store.put_manifest(json.dumps(manifest).encode(), descriptor["mediaType"], tag=ARM_IMAGE)
    # A layout reference's tag cannot contain ':', so registry tests copy it from this plain tag.
    store.tag(ARM_LAYOUT_TAG, arm_descriptor)

    index = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [{**descriptor, "platform": {"os": "linux", "architecture": "amd64"}}],
    }
    store.put_manifest(json.dumps(index).encode(), mediatypes.OCI_INDEX, tag=AMD64_INDEX)
    return store_path


def _build(tmp_path: Path, store: Path, text: str, platform: str | None, sink: ListSink | None = None):
    context = tmp_path / "context"
    context.mkdir(exist_ok=True)
    (context / "a.txt").write_text("a\n")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    request = BuildRequest(dockerfile, context, strategy="no-cache", image_store=str(store), platform=platform)
    return build(request, sink=sink, progress=False)


def test_run_on_foreign_base_fails(tmp_path: Path, platform_store: Path) -> None:
    with pytest.raises(PlatformMismatch) as caught:
        _build(tmp_path, platform_store, "FROM armbox\nRUN true\n", "linux/amd64")

    error = caught.value
    assert error.reference == "armbox"
    assert error.requested == "linux/amd64"
    assert error.available == "linux/arm64/v8"
    assert str(error).startswith(
        f"{tmp_path / 'Dockerfile'}:1: FROM armbox: base image armbox is for linux/arm64/v8, "
        "but the build targets linux/amd64"
    )
    assert error.hint


def test_registry_base_checked(tmp_path: Path, platform_store: Path, registry: RegistryServer) -> None:
    reference = f"{registry.address}/platform/armbox:1"
    copy_image(f"oci:{platform_store}:{ARM_LAYOUT_TAG}", reference)

    with pytest.raises(PlatformMismatch) as caught:
        _build(tmp_path, platform_store, f"FROM {reference}\nRUN true\n", "linux/amd64")

    assert caught.value.reference == reference
    assert caught.value.available == "linux/arm64/v8"


def test_requested_platform_checked(tmp_path: Path, platform_store: Path) -> None:
    with pytest.raises(PlatformMismatch) as caught:
        _build(tmp_path, platform_store, "FROM busybox\nRUN true\n", "linux/arm64")

    assert caught.value.requested == "linux/arm64"
    assert caught.value.available == "linux/amd64"


def test_fails_before_any_stage(tmp_path: Path, platform_store: Path) -> None:
    text = "FROM busybox AS first\nRUN echo built > /x\nFROM armbox\nCOPY --from=first /x /x\nRUN true\n"
    sink = ListSink()

    with pytest.raises(PlatformMismatch) as caught:
        _build(tmp_path, platform_store, text, None, sink)

    assert caught.value.line == 3
    assert [event for event in sink.events if isinstance(event, StageRecorded)] == []


def test_run_in_child_stage_counts(tmp_path: Path, platform_store: Path) -> None:
    # `base` has two children, so it is not squashed; the RUN of `x` executes on its files.
    text = "FROM armbox AS base\nCOPY a.txt /a\nFROM base AS x\nRUN true\nFROM base\nRUN true\n"

    with pytest.raises(PlatformMismatch) as caught:
        _build(tmp_path, platform_store, text, "linux/amd64")

    assert caught.value.line == 1


def test_stage_without_run_warns(
    tmp_path: Path, platform_store: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="cachelab.build.base_platform"):
        result = _build(tmp_path, platform_store, "FROM armbox\nCOPY a.txt /a\nENV A=1\n", "linux/amd64")

    # kaniko labels every stage with the requested platform, whatever the base's files are.
    config = json.loads(result.image.config)
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert "variant" not in config
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert "base image armbox is for linux/arm64/v8, but the build targets linux/amd64" in warnings[0]
    assert "has no RUN" in warnings[0]
    assert warnings[0].startswith(f"{tmp_path / 'Dockerfile'}:1: stage 0: ")


def test_without_platform_host_label(tmp_path: Path, platform_store: Path) -> None:
    result = _build(tmp_path, platform_store, "FROM armbox\nCOPY a.txt /a\n", None)

    # Without --platform kaniko writes the machine's os and architecture and keeps the base's variant.
    config = json.loads(result.image.config)
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["variant"] == "v8"


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, {"os": "linux", "architecture": "amd64", "variant": "v8", "os.version": "10.0"}),
        ("linux/arm64", {"os": "linux", "architecture": "arm64"}),
        ("linux/arm/v7", {"os": "linux", "architecture": "arm", "variant": "v7"}),
    ],
)
def test_label_platform(requested: str | None, expected: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Platform, "host", classmethod(lambda cls: cls("linux", "amd64")))
    config = ImageConfig.from_json(json.dumps(
        {"os": "windows", "architecture": "386", "variant": "v8", "os.version": "10.0", "config": {}},
    ))

    label_platform(config, requested)

    written = json.loads(config.to_json())
    assert {key: written[key] for key in ("os", "architecture", "variant", "os.version") if key in written} == expected


def test_matching_platform_builds(tmp_path: Path, platform_store: Path) -> None:
    result = _build(tmp_path, platform_store, "FROM busybox\nRUN true\n", "linux/amd64")

    assert result.image_digest is not None


def test_index_without_platform_fails(tmp_path: Path, platform_store: Path) -> None:
    with pytest.raises(ManifestNotFound) as caught:
        _build(tmp_path, platform_store, "FROM amd64-only\nRUN true\n", "linux/arm64")

    message = str(caught.value)
    assert "amd64-only" in message
    assert "no manifest for linux/arm64" in message
    assert "(it has linux/amd64)" in message


def test_index_with_platform_builds(tmp_path: Path, platform_store: Path) -> None:
    result = _build(tmp_path, platform_store, "FROM amd64-only\nRUN true\n", "linux/amd64")

    assert result.image_digest is not None


@pytest.mark.parametrize(
    ("config", "requested", "matches"),
    [
        ({"os": "linux", "architecture": "arm64"}, "linux/arm64/v8", True),
        ({"os": "linux", "architecture": "arm64", "variant": "v8"}, "linux/arm64", True),
        ({"os": "linux", "architecture": "arm", "variant": "v6"}, "linux/arm/v7", False),
        ({"os": "linux", "architecture": "x86_64"}, "linux/amd64", True),
        ({"os": "windows", "architecture": "amd64"}, "linux/amd64", False),
        ({}, "linux/amd64", False),
    ],
)
def test_config_platform_matches(config: dict[str, str], requested: str, matches: bool) -> None:
    found = ConfigPlatform.from_config(json.dumps(config).encode())

    assert found.matches(Platform.parse(requested)) is matches


def _stage(index: int, base_index: int | None, text: str) -> PlanStage:
    instructions = parse_dockerfile(f"FROM busybox\n{text}").stages[0].instructions
    return PlanStage(
        index=index, name=None, base_kind="stage" if base_index is not None else "image", base_name="",
        base_ref=None if base_index is not None else "busybox", base_index=base_index,
        commands=[Command(instruction, index) for instruction in instructions],
    )


def test_running_stages_follow_from_chain() -> None:
    stages = [
        _stage(0, None, "COPY a /a\n"),
        _stage(1, 0, "RUN true\n"),
        _stage(2, None, "COPY b /b\n"),
        _stage(3, 0, "COPY --from=2 /b /b\n"),
        _stage(4, None, "ENV A=1\nRUN true\n"),
    ]

    assert stages_running_commands(stages) == {0, 1, 4}


def test_cli_arm64_on_host_busybox(
    tmp_path: Path, platform_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "context").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\n")
    monkeypatch.chdir(tmp_path)

    code = main([
        "build", "Dockerfile", "--context", "context", "--platform", "linux/arm64",
        "--image-store", str(platform_store), "--strategy", "no-cache", "--quiet",
    ])

    err = capsys.readouterr().err
    assert code == 1
    assert (
        "cachelab: error: Dockerfile:1: FROM busybox: base image busybox is for linux/amd64, "
        "but the build targets linux/arm64"
    ) in err
    assert "cachelab: hint: Pass --platform" in err
