"""`cachelab study --mode replay` reports measured and modelled savings side by side."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cachelab.cli import main
from cachelab.oci.busybox import DEFAULT_BUSYBOX
from cachelab.record import Recording

FAN_IN = (
    "FROM busybox:1.36 AS a\nRUN echo a > /out-a\n\n"
    "FROM busybox:1.36 AS b\nRUN echo b > /out-b\n\n"
    "FROM busybox:1.36\nCOPY --from=a /out-a /srv/\nCOPY --from=b /out-b /srv/\n"
)
SINGLE = "FROM alpine:3.20\nRUN echo hi > /hi\n"


@pytest.fixture
def corpus_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "corpus"
    for name, text in {"fan-in/Dockerfile": FAN_IN, "single/Dockerfile": SINGLE}.items():
        (root / name).parent.mkdir(parents=True)
        (root / name).write_text(text)
    return root


@pytest.mark.sandbox
@pytest.mark.skipif(
    shutil.which("bwrap") is None or not os.path.isfile(DEFAULT_BUSYBOX),
    reason="needs bubblewrap and Debian's busybox-static",
)
def test_replay_headline_has_measured_rows(corpus_dir: Path, tmp_path: Path, capsys):
    # A relative --out once made replay take its layer caches for docker.io repositories.
    code = main(["study", "corpus", "--mode", "replay", "--sample", "1", "--scale", "2000", "--out", "out"])

    assert code == 0
    out = tmp_path / "out"
    builds = Recording.load(out / "replay").builds
    warm_lookahead = builds[(builds["step"] == 1) & (builds["strategy"] == "lookahead")]
    assert list(warm_lookahead["stages_eliminated"]) == [2]

    headline = pd.read_parquet(out / "headline.parquet")
    measured = headline[headline["mode"] == "measured"].set_index("metric")["value"]
    assert measured["files_replayed"] == 1
    assert measured["saved_fraction_median"] > 0
    assert measured["same_direction_share:stages built"] == 1.0
    assert measured["same_direction_share:bytes moved"] == 1.0
    modelled = headline[headline["mode"] == "model"].set_index("metric")["value"]
    assert modelled["saved_fraction_median"] > 0

    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary["mode"]) == {"model", "measured"}
    lookahead = summary[summary["strategy"] == "lookahead"].set_index("mode")
    assert lookahead.loc["measured", "saved_fraction"] > 0
    assert bool(lookahead.loc["measured", "same_direction_as_model"]) is True
    assert pd.isna(lookahead.loc["model", "same_direction_as_model"])

    printed = capsys.readouterr().out
    assert "measured  saved_fraction_median" in printed
    assert "model     saved_fraction_median" in printed
    assert "yes             fan-in/Dockerfile" in printed
    assert printed.endswith("wrote the replay study of corpus to out\n")
    assert (out / "report.txt").read_text() in printed
    # The twin base images stay in out/work/images for the next replay, and the twins were built in the staging directory.
    assert [path.name for path in (out / "work").iterdir()] == ["images"]
    assert (out / "work" / "images" / "index.json").is_file()
    assert not [path for path in out.iterdir() if path.name.startswith(".")]


def test_replay_without_multistage_files(corpus_dir: Path, capsys):
    code = main(["study", "corpus/single", "--mode", "replay", "--out", "out"])

    assert code == 1
    err = capsys.readouterr().err
    assert "no multistage Dockerfile that parses in the directory corpus/single" in err
    assert "--mode model" in err
