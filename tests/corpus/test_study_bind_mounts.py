"""A study counts RUN bind mounts kaniko leaves out of the key, per file, instead of warning for each."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.corpus.study import Study

TWO_MOUNTS = (
    "FROM scratch AS tools\n"
    "FROM scratch\n"
    "RUN --mount=type=bind,from=tools,target=/t true\n"
    "RUN --mount=type=bind,from=tools,target=/t true\n"
)


def test_study_counts_bind_mounts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="cachelab.keys.parts")

    with Study() as study:
        result = study.study_text(TWO_MOUNTS, "ci/Dockerfile")

    assert result.file_row["error"] is None
    assert result.unhashed_bind_mounts == 2
    assert caplog.records == []


def test_study_report_counts_bind_mounts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "a").mkdir(parents=True)
    (corpus / "b").mkdir()
    (corpus / "a" / "Dockerfile").write_text(TWO_MOUNTS)
    (corpus / "b" / "Dockerfile").write_text("FROM scratch\nRUN true\n")
    caplog.set_level(logging.WARNING, logger="cachelab.keys.parts")

    code = main(["study", str(corpus), "--mode", "model", "--out", str(tmp_path / "out")])

    capsys.readouterr()
    report = (tmp_path / "out" / "report.txt").read_text()
    line = re.search(r"^static\s+unhashed_bind_mounts\s+(\d+)\s+\((.*)\)$", report, re.MULTILINE)
    assert code == 0
    assert line is not None, report
    assert line.group(1) == "2"
    assert line.group(2).endswith("in 1 files")
    assert caplog.records == []
