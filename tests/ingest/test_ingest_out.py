"""`cachelab ingest --out` keeps an earlier recording unless --force, and --dockerfile-id sets the id."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.record import Recording

DATA = Path(__file__).parent / "data"
LOG = str(DATA / "kaniko-lookahead-warm.text.log")
TRACE = str(DATA / "kaniko-classic-cold.otlp.json")


def _ingest(*arguments: str) -> int:
    return main(["ingest", *arguments])


def test_out_with_recording_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    assert _ingest("kaniko-trace", TRACE, "--out", str(out)) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    capsys.readouterr()

    code = _ingest("kaniko-log", LOG, "--out", str(out))
    err = capsys.readouterr().err

    assert code == 1
    assert f"cachelab: error: --out {out} already contains a recording (builds.parquet" in err
    assert "add --force" in err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_out_with_study_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    out.mkdir()
    (out / "files.parquet").write_bytes(b"study files")
    (out / "stages.parquet").write_bytes(b"study stages")

    code = _ingest("kaniko-log", LOG, "--out", str(out))

    assert code == 1
    assert "already contains a recording (stages.parquet)" in capsys.readouterr().err
    assert (out / "stages.parquet").read_bytes() == b"study stages"


def test_out_with_recording_forced(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    assert _ingest("kaniko-trace", TRACE, "--out", str(out)) == 0
    timeline = out / "timeline-per-stage.png"
    timeline.write_bytes(b"png")

    code = _ingest("kaniko-log", LOG, "--out", str(out), "--force")

    assert code == 0
    assert Recording.load(out).builds["strategy"].tolist() == ["lookahead"]
    assert not timeline.exists()
    assert sorted(path.name for path in out.iterdir() if path.name.startswith(".")) == []


def test_forced_failure_keeps_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    assert _ingest("kaniko-trace", TRACE, "--out", str(out)) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    code = _ingest("kaniko-benchmark", LOG, "--out", str(out), "--force")

    assert code == 1
    assert "not a kaniko BENCHMARK_FILE" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_interrupted_save_keeps_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rec"
    assert _ingest("kaniko-trace", TRACE, "--out", str(out)) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    def save_one_table(recording: Recording, directory: str | Path) -> Path:
        (Path(directory) / "builds.parquet").write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Recording, "save", save_one_table)
    code = _ingest("kaniko-log", LOG, "--out", str(out), "--force")

    assert code == 130
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_out_with_other_files_accepted(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    out.mkdir()
    (out / "notes.txt").write_text("mine")

    assert _ingest("kaniko-log", LOG, "--out", str(out)) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert len(Recording.load(out).builds) == 1


@pytest.mark.parametrize(
    ("engine", "file"),
    [
        ("kaniko-trace", "kaniko-classic-cold.otlp.json"),
        ("kaniko-log", "kaniko-lookahead-warm.text.log"),
        ("kaniko-benchmark", "kaniko-benchmark.json"),
        ("buildkit", "buildkit-rawjson.jsonl"),
    ],
)
def test_dockerfile_id_option(tmp_path: Path, engine: str, file: str) -> None:
    code = _ingest(engine, str(DATA / file), "--out", str(tmp_path / "out"), "--dockerfile-id", "app/Dockerfile")

    builds = Recording.load(tmp_path / "out").builds
    assert code == 0
    assert builds["dockerfile_id"].tolist() == ["app/Dockerfile"]
    assert str(builds["dockerfile_id"].dtype) == "string"


def test_dockerfile_id_empty_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _ingest("kaniko-log", LOG, "--out", str(tmp_path / "out"), "--dockerfile-id", "")

    assert code == 1
    assert "--dockerfile-id is empty" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
