"""`cachelab study --out`: an earlier study or recording is rejected without --force, and kept by a failed forced study."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import cachelab.cli.study as study_cli
from cachelab.cli import main
from cachelab.record import Recording

MULTISTAGE = "FROM busybox AS build\nRUN echo hi > /hi\nFROM busybox\nCOPY --from=build /hi /hi\n"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "app").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text(MULTISTAGE)
    return root


def _contents(directory: Path) -> dict[str, bytes]:
    """Return every file below `directory` by its relative path, with its bytes."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*")) if path.is_file()
    }


def _earlier_study(corpus: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, bytes]:
    assert main(["study", str(corpus), "--mode", "model", "--out", str(out)]) == 0
    capsys.readouterr()
    return _contents(out)


def test_earlier_study_rejected(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    earlier = _earlier_study(corpus, out, capsys)

    code = main(["study", str(corpus), "--mode", "model", "--out", str(out)])
    err = capsys.readouterr().err

    assert code == 1
    assert f"cachelab: error: --out {out} already contains a study (files.parquet, stages.parquet, model" in err
    assert "add --force" in err
    assert _contents(out) == earlier


def test_failed_forced_study_keeps_earlier(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    earlier = _earlier_study(corpus, out, capsys)
    empty = tmp_path / "empty"
    empty.mkdir()

    code = main(["study", str(empty), "--mode", "model", "--out", str(out), "--force"])
    err = capsys.readouterr().err

    assert code == 1
    assert "no Dockerfiles found" in err
    assert _contents(out) == earlier
    assert not [path for path in out.iterdir() if path.name.startswith(".")]


def test_interrupted_forced_study_keeps_earlier(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    earlier = _earlier_study(corpus, out, capsys)

    def interrupt(*args: object, **kwargs: object) -> None:
        # The model half of the replay study has written its tables by now.
        raise KeyboardInterrupt

    monkeypatch.setattr(study_cli, "_replay", interrupt)

    code = main(["study", str(corpus), "--mode", "replay", "--out", str(out), "--force"])
    capsys.readouterr()

    assert code == 130
    assert _contents(out) == earlier
    assert not [path for path in out.iterdir() if path.name.startswith(".")]


def test_forced_study_replaces_earlier(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    _earlier_study(corpus, out, capsys)
    stale = out / "savings-measured.png"
    stale.write_bytes(b"png of an earlier replay study")
    cached = out / "work" / "images" / "index.json"
    cached.parent.mkdir(parents=True)
    cached.write_text("{}")
    mine = out / "notes.txt"
    mine.write_text("mine\n")

    code = main(["study", str(corpus), "--mode", "model", "--sample", "1", "--out", str(out), "--force"])
    stdout = capsys.readouterr().out

    assert code == 0
    assert stdout.endswith(f"wrote the model study of {corpus} to {out}\n")
    assert len(pd.read_parquet(out / "files.parquet")) == 1
    assert (out / "report.txt").read_text() in stdout
    assert not stale.exists()
    assert cached.read_text() == "{}"
    assert mine.read_text() == "mine\n"
    assert not [path for path in out.iterdir() if path.name.startswith(".")]


def test_forced_study_replaces_file_named_model(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "model").write_text("a file where the study writes a directory\n")

    code = main(["study", str(corpus), "--mode", "model", "--out", str(out), "--force"])
    capsys.readouterr()

    assert code == 0
    assert sorted(path.name for path in (out / "model").iterdir()) == ["part-00000"]


def test_recording_rejected(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    Recording.from_events([]).save(out)
    earlier = _contents(out)

    code = main(["study", str(corpus), "--mode", "model", "--out", str(out)])
    err = capsys.readouterr().err

    assert code == 1
    assert f"cachelab: error: --out {out} already contains a recording (builds.parquet" in err
    assert _contents(out) == earlier
    Recording.load(out)


def test_forced_study_replaces_recording(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    Recording.from_events([]).save(out)

    code = main(["study", str(corpus), "--mode", "model", "--out", str(out), "--force"])
    capsys.readouterr()

    assert code == 0
    for table in ("builds", "instructions", "spans"):
        assert not (out / f"{table}.parquet").exists(), table
    stages = pd.read_parquet(out / "stages.parquet")
    assert "key_blockers" in stages.columns


def test_out_file_rejected_before_study(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    studied = []
    monkeypatch.setattr(study_cli, "_study", lambda *args, **kwargs: studied.append(args))

    code = main(["study", str(corpus), "--mode", "model", "--out", str(afile)])
    err = capsys.readouterr().err

    assert code == 1
    assert f"cachelab: error: --out {afile} is not a directory" in err
    assert studied == []
    assert afile.read_text() == "mine\n"


def test_out_below_file_rejected(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine\n")

    code = main(["study", str(corpus), "--mode", "model", "--out", str(afile / "out")])
    err = capsys.readouterr().err

    assert code == 1
    assert f"--out {afile / 'out'} cannot be created, because {afile} is not a directory" in err


def test_twin_image_cache_not_blocking(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A failed replay leaves only its twin base images, which the next replay reuses.
    out = tmp_path / "out"
    cached = out / "work" / "images" / "index.json"
    cached.parent.mkdir(parents=True)
    cached.write_text("{}")

    code = main(["study", str(corpus), "--mode", "model", "--out", str(out)])
    capsys.readouterr()

    assert code == 0
    assert (out / "report.txt").is_file()
    assert cached.read_text() == "{}"
