"""A failed or interrupted study leaves no partial outputs, and no --out directory it created."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import cachelab.cli.study as study_cli
from cachelab.cli import main
from cachelab.corpus.store import CorpusRecord, write_store

MULTISTAGE = "FROM busybox AS build\nRUN echo hi > /hi\nFROM busybox\nCOPY --from=build /hi /hi\n"


def test_interrupted_replay_leaves_no_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus" / "app"
    corpus.mkdir(parents=True)
    (corpus / "Dockerfile").write_text(MULTISTAGE)
    out = tmp_path / "new" / "out"

    def interrupt(*args: object, **kwargs: object) -> None:
        # The model half of the study has written its tables and figures by now, into the staging directory.
        assert len(list(out.glob(".cachelab-study-*/files.parquet"))) == 1
        raise KeyboardInterrupt

    monkeypatch.setattr(study_cli, "_replay", interrupt)

    code = main(["study", str(tmp_path / "corpus"), "--mode", "replay", "--out", str(out)])

    assert code == 130
    assert "cachelab: interrupted" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_interrupted_study_keeps_other_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus" / "app"
    corpus.mkdir(parents=True)
    (corpus / "Dockerfile").write_text(MULTISTAGE)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(study_cli, "_replay", interrupt)

    code = main(["study", str(tmp_path / "corpus"), "--mode", "replay", "--out", str(out)])

    capsys.readouterr()
    assert code == 130
    assert sorted(path.name for path in out.iterdir()) == ["notes.txt"]


def test_truncated_store_leaves_no_out_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "corpus.jsonl.zst"
    texts = [MULTISTAGE + f"# {index}\n" * 200 for index in range(50)]
    records = [
        CorpusRecord(id=f"acme/app:{index}/Dockerfile", repo="acme/app", commit="0" * 40,
                     path=f"{index}/Dockerfile", license="MIT", sha256=hashlib.sha256(text.encode()).hexdigest(),
                     stages=2, text=text)
        for index, text in enumerate(texts)
    ]
    write_store(store, records)
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"

    code = main(["study", str(store), "--mode", "model", "--out", str(out)])

    assert code == 1
    assert "truncated" in capsys.readouterr().err
    assert not out.exists()
