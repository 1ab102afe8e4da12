"""A model study logs the first few Dockerfile warnings of each kind and counts them all in the report."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.corpus.study_warnings import SHOWN_PER_KIND

# Each file warns twice: FROM uses TARGETOS, and --from names no stage.
WARNING_FILE = "FROM busybox AS base-linux\nRUN true\nFROM base-${TARGETOS}\nCOPY --from=tools /t /t\n"
FILES = 12


def write_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    for index in range(FILES):
        folder = corpus / f"f{index:02d}"
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text(WARNING_FILE)
    (corpus / "quiet").mkdir()
    (corpus / "quiet" / "Dockerfile").write_text("FROM scratch\n")
    return corpus


def report_row(report: str, metric: str) -> tuple[str, str]:
    line = re.search(rf"^static\s+{metric}\s+(\d+)\s+\((.*)\)$", report, re.MULTILINE)
    assert line is not None, report
    return line.group(1), line.group(2)


@pytest.mark.parametrize("workers", [1, 2])
def test_study_counts_warnings(
    workers: int, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    corpus = write_corpus(tmp_path)
    caplog.set_level(logging.WARNING)

    code = main([
        "study", str(corpus), "--mode", "model", "--workers", str(workers), "--out", str(tmp_path / "out"),
    ])

    capsys.readouterr()
    assert code == 0
    report = (tmp_path / "out" / "report.txt").read_text()
    unset_count, unset_note = report_row(report, "unset_platform_args")
    assert unset_count == str(FILES)
    assert unset_note.endswith(f"in {FILES} files")
    not_stage_count, not_stage_note = report_row(report, "from_image_not_stage")
    assert not_stage_count == str(FILES)
    assert not_stage_note.endswith(f"in {FILES} files")

    layer = [record for record in caplog.records if record.name.startswith("cachelab.dockerfile")]
    unset = [record for record in layer if "leaves unset in FROM lines" in record.getMessage()]
    not_stage = [record for record in layer if "no stage is named 'tools'" in record.getMessage()]
    assert len(unset) == SHOWN_PER_KIND
    assert len(not_stage) == SHOWN_PER_KIND
    assert len(layer) == 2 * SHOWN_PER_KIND
    # The first files in input order are the ones shown.
    assert [record.getMessage().split("/")[0] for record in unset] == [f"f{i:02d}" for i in range(SHOWN_PER_KIND)]

    summaries = [record.getMessage() for record in caplog.records if record.name == "cachelab.corpus.study_warnings"]
    assert len(summaries) == 2
    assert any(message.startswith(f"{FILES - SHOWN_PER_KIND} more unset-platform-arg warnings") for message in summaries)

