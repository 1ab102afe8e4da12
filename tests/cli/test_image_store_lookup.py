"""`cachelab image pull|unpack|inspect|diff` read the local image store before a registry."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from cachelab.build.stores import find_in_image_store
from cachelab.cli import main
from cachelab.oci.importer import import_rootfs
from cachelab.oci.layout import LayoutStore
from tests.fixtures.registry import RegistryServer

pytestmark = pytest.mark.registry


def _rootfs(directory: Path, content: str) -> Path:
    (directory / "etc").mkdir(parents=True)
    (directory / "etc" / "release").write_text(content)
    return directory


def _store_image(store: Path, tag: str, rootfs: Path) -> str:
    """Import `rootfs` into the layout store at `store` under `tag`, as a build tags its base images."""
    temporary = f"import-{uuid.uuid4().hex[:8]}"
    import_rootfs(rootfs, f"oci:{store}:{temporary}")
    layout = LayoutStore(store)
    descriptor = layout.find(temporary)
    assert descriptor is not None
    layout.tag(tag, descriptor)
    layout.untag(temporary)
    return str(descriptor["digest"])


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(home))
    return home


@pytest.fixture
def app(registry: RegistryServer, cache_home: Path, tmp_path: Path) -> dict[str, str]:
    """An image in the default image store and another one under the same reference in the registry."""
    reference = f"{registry.address}/store-lookup/app-{uuid.uuid4().hex[:8]}:1.0"
    local = _store_image(cache_home / "images", reference, _rootfs(tmp_path / "local", "local\n"))
    remote = import_rootfs(_rootfs(tmp_path / "remote", "remote\n"), reference).manifest_digest
    assert local != remote
    return {"reference": reference, "local": local, "remote": remote}


def _inspect(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[dict[str, object], str]:
    code = main(["image", "inspect", "--format", "json", *arguments])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out), captured.err


def test_inspect_reads_store_first(app: dict[str, str], cache_home: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    report, err = _inspect(capsys, app["reference"])

    assert report["manifest_digest"] == app["local"]
    assert f"image {app['reference']}: found in the local image store {cache_home / 'images'} as " \
        f"{app['reference']}" in err


def test_inspect_falls_back_to_registry(registry: RegistryServer, cache_home: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    reference = f"{registry.address}/store-lookup/remote-only:1.0"
    remote = import_rootfs(_rootfs(tmp_path / "remote", "remote only\n"), reference).manifest_digest
    _store_image(cache_home / "images", f"{registry.address}/store-lookup/other:1.0", _rootfs(tmp_path / "o", "o"))

    report, err = _inspect(capsys, reference)

    assert report["manifest_digest"] == remote
    assert f"image {reference}: not in the local image store {cache_home / 'images'}, so read from registry " \
        f"{registry.address}" in err


def test_inspect_without_store_directory(registry: RegistryServer, cache_home: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    reference = f"{registry.address}/store-lookup/no-store:1.0"
    remote = import_rootfs(_rootfs(tmp_path / "remote", "no store\n"), reference).manifest_digest

    report, err = _inspect(capsys, reference)

    assert report["manifest_digest"] == remote
    assert "not in the local image store" in err
    assert not (cache_home / "images").exists()


def test_no_image_store_reads_registry(app: dict[str, str], registry: RegistryServer,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    report, err = _inspect(capsys, app["reference"], "--no-image-store")

    assert report["manifest_digest"] == app["remote"]
    assert f"image {app['reference']}: read from registry {registry.address} (--no-image-store)" in err


def test_image_store_option(registry: RegistryServer, cache_home: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    reference = f"{registry.address}/store-lookup/elsewhere:1.0"
    other_store = tmp_path / "other-store"
    local = _store_image(other_store, reference, _rootfs(tmp_path / "local", "other store\n"))

    report, err = _inspect(capsys, reference, "--image-store", str(other_store))

    assert report["manifest_digest"] == local
    assert f"found in the local image store {other_store} as {reference}" in err


def test_layout_reference_not_redirected(app: dict[str, str], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    layout = tmp_path / "layout"
    imported = import_rootfs(_rootfs(tmp_path / "layout-rootfs", "layout\n"), f"oci:{layout}:v1")

    report, err = _inspect(capsys, f"oci:{layout}:v1")

    assert report["manifest_digest"] == imported.manifest_digest
    assert err == ""


def test_unpack_reads_store_first(app: dict[str, str], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"

    code = main(["image", "unpack", app["reference"], str(root)])
    captured = capsys.readouterr()

    assert code == 0, captured.err
    assert (root / "etc" / "release").read_text() == "local\n"
    assert "found in the local image store" in captured.err


def test_diff_locates_each_image(app: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["image", "diff", "--format", "json", app["reference"], app["reference"], "--no-image-store"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["manifest_digest_a"] == app["remote"]

    code = main(["image", "diff", "--format", "json", app["reference"], app["reference"]])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)

    assert result["manifest_digest_a"] == app["local"]
    assert result["manifest_digest_b"] == app["local"]
    assert captured.err.count("found in the local image store") == 2


def test_pull_copies_from_store(app: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    destination = tmp_path / "copy"

    code = main(["image", "pull", app["reference"], f"oci:{destination}:app"])
    captured = capsys.readouterr()

    assert code == 0, captured.err
    assert LayoutStore(destination).find("app")["digest"] == app["local"]  # type: ignore[index]
    assert "found in the local image store" in captured.err


def test_store_lookup_normalizes_short_names(tmp_path: Path) -> None:
    store = tmp_path / "images"
    digest = _store_image(store, "docker.io/library/busybox:latest", _rootfs(tmp_path / "bb", "busybox\n"))
    layout = LayoutStore(store)

    for written in ("busybox", "library/busybox", "docker.io/library/busybox:latest"):
        found = find_in_image_store(layout, written)
        assert found is not None, written
        assert found[0] == "docker.io/library/busybox:latest"
        assert found[1]["digest"] == digest
    assert find_in_image_store(layout, "busybox:1.36") is None
    assert find_in_image_store(layout, f"oci:{store}:docker.io/library/busybox:latest") is None
    assert find_in_image_store(LayoutStore(tmp_path / "absent"), "busybox") is None


def test_store_lookup_tries_name_as_written(tmp_path: Path) -> None:
    store = tmp_path / "images"
    digest = _store_image(store, "busybox", _rootfs(tmp_path / "bb", "busybox\n"))

    found = find_in_image_store(LayoutStore(store), "busybox")

    assert found is not None
    assert found[0] == "busybox"
    assert found[1]["digest"] == digest


def test_help_names_store_lookup(capsys: pytest.CaptureFixture[str]) -> None:
    for action in ("inspect", "unpack", "pull", "diff"):
        with pytest.raises(SystemExit):
            main(["image", action, "--help"])
        text = " ".join(capsys.readouterr().out.split())

        assert "--image-store DIR" in text, action
        assert "the registry is contacted only when the store lacks the image" in text, action
        assert "--no-image-store" in text, action
