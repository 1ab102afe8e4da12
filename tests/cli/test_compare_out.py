"""`cachelab compare` rejects an --out directory that already contains a recording, unless --force."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from tests.fixtures.paths import TESTS_DIR

EXAMPLE = TESTS_DIR.parent / "datasets" / "examples" / "two-stage"


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "home"))


def _earlier_recording(out: Path) -> Path:
    out.mkdir()
    builds = out / "builds.parquet"
    builds.write_bytes(b"earlier recording")
    return builds


def test_out_with_recording_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    builds = _earlier_recording(out)

    code = main(["compare", str(EXAMPLE), "--quiet", "--image-store", str(tmp_path / "images"),
                 "--out", str(out)])
    err = capsys.readouterr().err

    assert code == 1
    assert f"cachelab: error: --out {out} already contains a recording (builds.parquet)" in err
    assert "add --force" in err
    assert builds.read_bytes() == b"earlier recording"
    assert not (tmp_path / "images").exists()


def test_out_with_recording_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    builds = _earlier_recording(out)
    timeline = out / "timeline-old.png"
    timeline.write_bytes(b"png")

    code = main(["compare", str(EXAMPLE), "--quiet", "--image-store", str(tmp_path / "images"),
                 "--strategies", "per-stage", "--out", str(out), "--force"])

    assert code == 0, capsys.readouterr().err
    assert builds.read_bytes() != b"earlier recording"
    assert not timeline.exists()
    assert (out / "timeline-per-stage.png").exists()
