"""`cachelab study --calibrate DIR` rejects a study folder, a missing path and a partial recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.corpus.study_output import load_model_recording

DOCKERFILE = "FROM busybox:1.36\nRUN echo hi > /hi\n"
RECORD_HINT = "cachelab: hint: Record measured builds with `cachelab build --record DIR`"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus" / "one"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    return folder.parent


@pytest.fixture
def study_folder(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "s1"
    assert main(["study", str(corpus), "--mode", "model", "--out", str(out)]) == 0
    capsys.readouterr()
    return out


def calibrate_error(corpus: Path, calibrate: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run a calibrated model study that must fail, and return its stderr lines."""
    code = main(["study", str(corpus), "--mode", "model", "--calibrate", str(calibrate),
                 "--out", str(tmp_path / "out")])

    assert code != 0
    assert not (tmp_path / "out" / "report.txt").exists()
    return capsys.readouterr().err.splitlines()


def test_calibrate_study_folder(
    corpus: Path, study_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    lines = calibrate_error(corpus, study_folder, tmp_path, capsys)

    assert lines[0] == (f"cachelab: error: --calibrate {study_folder}: this is a study folder "
                        "written by `cachelab study`, not a recording")
    assert lines[1].startswith("cachelab: hint: A study's builds are modelled, not measured. Record measured")
    assert "Save the recording again" not in "\n".join(lines)


def test_calibrate_missing_path(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nosuch"

    lines = calibrate_error(corpus, missing, tmp_path, capsys)

    assert lines[0] == f"cachelab: error: --calibrate {missing}: recording directory not found"
    assert lines[1].startswith(RECORD_HINT)
    assert "Recording.save" not in "\n".join(lines)


def test_calibrate_empty_folder(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    lines = calibrate_error(corpus, empty, tmp_path, capsys)

    assert lines[0] == f"cachelab: error: --calibrate {empty}: the directory contains no recording (no builds.parquet)"
    assert lines[1].startswith(RECORD_HINT)


def test_calibrate_partial_recording(
    corpus: Path, study_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    partial = tmp_path / "partial"
    load_model_recording(study_folder).save(partial)
    (partial / "stages.parquet").unlink()

    lines = calibrate_error(corpus, partial, tmp_path, capsys)

    assert lines[0] == f"cachelab: error: --calibrate {partial}: recording {partial} has no stages.parquet"
    assert lines[1].startswith(RECORD_HINT)
    assert "Recording.save" not in "\n".join(lines)
