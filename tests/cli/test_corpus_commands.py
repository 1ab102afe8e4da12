"""`cachelab scan`, `study`, `compare --mode` and `corpus list` take a corpus in the same forms."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from cachelab.cli import main
from cachelab.corpus.store import CorpusRecord, fetched_store_path, write_store

FAN_IN = (
    "FROM busybox:1.36 AS a\nRUN echo a > /a\n\n"
    "FROM busybox:1.36 AS b\nRUN echo b > /b\n\n"
    "FROM busybox:1.36\nCOPY --from=a /a /srv/\nCOPY --from=b /b /srv/\n"
)
SINGLE = "FROM alpine:3.20\nRUN echo hi > /hi\n"


def record(identifier: str, text: str) -> CorpusRecord:
    return CorpusRecord(
        id=identifier, repo="acme/app", commit="0" * 40, path=identifier, license="MIT",
        sha256=hashlib.sha256(text.encode()).hexdigest(), stages=text.count("FROM "), text=text,
    )


@pytest.fixture
def fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Return the name of a two-file corpus fetched into an otherwise empty cache directory."""
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    write_store(fetched_store_path("tiny"), [record("fan-in", FAN_IN), record("single", SINGLE)])
    return "tiny"


def test_scan_takes_fetched_name(fetched: str, tmp_path: Path):
    out = tmp_path / "scan.csv"

    code = main(["scan", fetched, "--out", str(out), "--progress", "never"])

    assert code == 0
    assert sorted(pd.read_csv(out)["id"]) == ["fan-in", "single"]


def test_study_takes_fetched_name(fetched: str, tmp_path: Path):
    out = tmp_path / "study"

    code = main(["study", fetched, "--mode", "model", "--out", str(out)])

    assert code == 0
    assert sorted(pd.read_parquet(out / "files.parquet")["dockerfile_id"]) == ["fan-in", "single"]


def test_compare_mode_takes_fetched_name(fetched: str, tmp_path: Path):
    out = tmp_path / "study"

    code = main(["compare", fetched, "--mode", "model", "--out", str(out)])

    assert code == 0
    assert len(pd.read_parquet(out / "files.parquet")) == 2


def test_commands_take_single_dockerfile(fetched: str, tmp_path: Path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(FAN_IN)

    scan_code = main(["scan", str(dockerfile), "--out", str(tmp_path / "scan.csv"), "--progress", "never"])
    study_code = main(["study", str(dockerfile), "--mode", "model", "--out", str(tmp_path / "study")])

    assert scan_code == 0
    assert study_code == 0
    assert list(pd.read_csv(tmp_path / "scan.csv")["id"]) == ["Dockerfile"]
    files = pd.read_parquet(tmp_path / "study" / "files.parquet")
    assert files.loc[0, "stages_eliminated"] == 2


@pytest.mark.parametrize("command", ["scan", "study", "compare"])
def test_typo_error_same_for_every_command(fetched: str, tmp_path: Path, command: str, capsys):
    arguments = [command, "tinyy", "--out", str(tmp_path / "out.csv")]
    if command != "scan":
        arguments += ["--mode", "model"]

    code = main(arguments)

    assert code == 1
    err = capsys.readouterr().err
    assert f"cachelab: error: corpus not found: tinyy (tried the path {tmp_path / 'tinyy'}" in err
    assert "cachelab: hint: did you mean tiny?" in err
    assert not (tmp_path / "out.csv").exists()


def test_compare_without_mode_names_mode(fetched: str, capsys):
    code = main(["compare", fetched])

    assert code == 1
    err = capsys.readouterr().err
    assert "cachelab: error: tiny is a corpus (fetched store" in err
    assert "Add --mode model or --mode replay" in err


def test_compare_without_mode_missing_file(fetched: str, capsys):
    code = main(["compare", "absent/Dockerfile"])

    assert code == 1
    assert "Dockerfile or example directory not found: absent/Dockerfile" in capsys.readouterr().err


def test_corpus_list_shows_fetched_and_shipped(fetched: str, capsys):
    code = main(["corpus", "list"])

    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("tiny ") and "fetched" in line for line in lines)
    assert any(line.startswith("real-v1 ") and "cachelab corpus fetch real-v1" in line for line in lines)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--sample", "0"), ("--sample", "-3"), ("--workers", "0"), ("--scale", "0"), ("--scale", "nan")],
)
def test_study_rejects_non_positive_options(fetched: str, option: str, value: str, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["study", fetched, "--mode", "model", option, value, "--out", "out"])

    assert caught.value.code == 2
    assert f"argument {option}: invalid value '{value}'" in capsys.readouterr().err


def test_study_of_unparsable_corpus(fetched: str, tmp_path: Path, caplog):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Dockerfile").write_text("FROM alpine\nNOTANINSTRUCTION x\n")

    code = main(["study", "broken", "--mode", "model", "--out", "out"])

    assert code == 0
    headline = pd.read_parquet(tmp_path / "out" / "headline.parquet").set_index("metric")["value"]
    assert headline["files_studied"] == 0
    assert not (tmp_path / "out" / "savings-model.png").exists()
    assert "no model warm rebuild succeeded under both per-stage and lookahead" in caplog.text


def test_forced_study_replaces_earlier_outputs(fetched: str, tmp_path: Path):
    out = tmp_path / "out"
    earlier = ["files.parquet", "direction.parquet", "replay-errors.parquet", "savings-measured.png", "replay/builds.parquet",
               "model/part-00007/builds.parquet"]
    kept = ["notes.txt", "work/images/index.json"]
    for name in earlier + kept:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("from an earlier run\n")

    code = main(["study", fetched, "--mode", "model", "--out", str(out), "--force"])

    assert code == 0
    for name in earlier[1:]:
        assert not (out / name).exists(), name
    for name in kept:
        assert (out / name).read_text() == "from an earlier run\n", name
    assert sorted(path.name for path in (out / "model").iterdir()) == ["part-00000"]


def test_study_keeps_other_directory(fetched: str, tmp_path: Path, capsys):
    # A directory named like a study output that is not one is rejected, unless --force replaces it.
    out = tmp_path / "mine"
    (out / "model").mkdir(parents=True)
    (out / "model" / "Dockerfile").write_text(SINGLE)

    code = main(["study", fetched, "--mode", "model", "--out", str(out)])

    assert code == 1
    assert f"--out {out} already contains files that a study writes (model)" in capsys.readouterr().err
    assert (out / "model" / "Dockerfile").read_text() == SINGLE
