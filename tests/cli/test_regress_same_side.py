"""`cachelab regress` warns when OLD and NEW are the same builds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cachelab.cli import main
from tests.stats.test_regress_cli import save_builds

WARNING = "so every group is compared with itself"


def test_same_directory_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    side = save_builds(tmp_path / "old", "old", 1.0)

    code = main(["regress", str(side), f"{side}/", "--resamples", "50"])
    err = capsys.readouterr().err

    assert code == 0
    assert f"cachelab: warning: OLD and NEW are the same directory ({side}), {WARNING}" in err


def test_copied_recording_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    side = save_builds(tmp_path / "old", "old", 1.0)
    copy = tmp_path / "copy"
    shutil.copytree(side, copy)

    code = main(["regress", str(side), str(copy), "--resamples", "50"])
    err = capsys.readouterr().err

    assert code == 0
    assert f"OLD ({side}) and NEW ({copy}) contain the same 6 builds, {WARNING}" in err


def test_different_sides_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = save_builds(tmp_path / "old", "old", 1.0)
    new = save_builds(tmp_path / "new", "new", 1.3)

    code = main(["regress", str(old), str(new), "--resamples", "50"])

    assert code == 0
    assert WARNING not in capsys.readouterr().err
