"""A new OCI layout that the user names is created without its missing parents; default stores get theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.oci.busybox import DEFAULT_BUSYBOX
from tests.fixtures.paths import TESTS_DIR

EXAMPLE = TESTS_DIR.parent / "datasets" / "examples" / "two-stage"


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "home"))


def _build(image_store: Path | str, *options: str) -> list[str]:
    return ["build", str(EXAMPLE), "--quiet", "--strategy", "no-cache", "--image-store", str(image_store), *options]


def test_build_destination_parent_missing(tmp_path: Path, image_store: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    layout = tmp_path / "missing" / "dir"

    code = main(_build(image_store, "--destination", f"oci:{layout}:v1"))
    err = capsys.readouterr().err

    assert code == 1
    assert f"OCI layout directory {layout} not found" in err
    assert f"its parent directory {layout.parent} does not exist" in err
    assert not layout.parent.exists()


def test_build_image_store_parent_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "missing" / "store"

    code = main(_build(store))
    err = capsys.readouterr().err

    assert code == 1
    assert f"OCI layout directory {store} not found" in err
    assert not store.parent.exists()


def test_build_destination_new_directory(tmp_path: Path, image_store: Path) -> None:
    layout = tmp_path / "out"

    code = main(_build(image_store, "--destination", f"oci:{layout}:v1"))

    assert code == 0
    assert (layout / "oci-layout").is_file()


def test_build_default_stores_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path(DEFAULT_BUSYBOX).is_file():
        pytest.skip(f"needs Debian's busybox-static at {DEFAULT_BUSYBOX}")
    # On a first run the cache directory and its parents do not exist yet.
    home = tmp_path / "fresh" / "cache" / "cachelab"
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(home))

    code = main(["build", str(EXAMPLE), "--quiet"])

    assert code == 0
    assert (home / "images" / "oci-layout").is_file()
    assert (home / "layer-cache" / "oci-layout").is_file()


def test_image_busybox_parent_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not Path(DEFAULT_BUSYBOX).is_file():
        pytest.skip(f"needs Debian's busybox-static at {DEFAULT_BUSYBOX}")
    layout = tmp_path / "missing" / "dir"

    code = main(["image", "busybox", "--busybox", DEFAULT_BUSYBOX, f"oci:{layout}:v1"])
    err = capsys.readouterr().err

    assert code == 1
    assert f"OCI layout directory {layout} not found" in err
    assert not layout.parent.exists()


def test_image_pull_parent_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not Path(DEFAULT_BUSYBOX).is_file():
        pytest.skip(f"needs Debian's busybox-static at {DEFAULT_BUSYBOX}")
    source = f"oci:{tmp_path / 'source'}:v1"
    assert main(["image", "busybox", "--busybox", DEFAULT_BUSYBOX, source]) == 0
    layout = tmp_path / "missing" / "dir"

    code = main(["image", "pull", source, f"oci:{layout}:v1"])
    err = capsys.readouterr().err

    assert code == 1
    assert f"OCI layout directory {layout} not found" in err
    assert not layout.parent.exists()
