"""`cachelab study --calibrate` names the recording and the changed cost parameters in its report and headline."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from cachelab.cli import main
from cachelab.cli.study import calibration_note
from cachelab.corpus.study_output import load_model_recording
from cachelab.model.costs import CostModel

FAN_IN = (
    "FROM busybox:1.36 AS a\nCOPY a.txt /a\nRUN cat /a > /out-a\n\n"
    "FROM busybox:1.36 AS b\nRUN echo b > /out-b\n\n"
    "FROM busybox:1.36\nCOPY --from=a /out-a /srv/\nCOPY --from=b /out-b /srv/\n"
)


def test_calibration_note_lists_changes() -> None:
    old = CostModel()
    new = CostModel(download_bytes_per_s=25e6, request_s=0.125)

    note = calibration_note(Path("runs/cold"), old, new)

    assert note == (
        "model costs calibrated from the recording in runs/cold: "
        "download_bytes_per_s 5e+07 -> 2.5e+07, request_s 0.05 -> 0.125"
    )


def test_calibration_note_without_changes() -> None:
    note = calibration_note(Path("runs/cold"), CostModel(), CostModel())

    assert note == "model costs calibrated from the recording in runs/cold: no parameter changed"


def test_calibrated_study_reports_calibration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus" / "fan-in"
    corpus.mkdir(parents=True)
    (corpus / "Dockerfile").write_text(FAN_IN)
    recorded = tmp_path / "recorded"
    assert main(["study", str(tmp_path / "corpus"), "--mode", "model", "--out", str(recorded)]) == 0
    slow = tmp_path / "slow-recording"
    recording = load_model_recording(recorded)
    spans = recording.spans
    spans["end_s"] = spans["start_s"] + 10 * (spans["end_s"] - spans["start_s"])
    recording.save(slow)
    out = tmp_path / "out"

    code = main(["study", str(tmp_path / "corpus"), "--mode", "model", "--calibrate", str(slow), "--out", str(out)])

    capsys.readouterr()
    report = (out / "report.txt").read_text()
    line = re.search(r"^calibration: (.*)$", report, re.MULTILINE)
    headline = pd.read_parquet(out / "headline.parquet")
    notes = list(headline.loc[headline["metric"] == "calibration", "note"])
    assert code == 0
    assert line is not None, report
    assert line.group(1).startswith(f"model costs calibrated from the recording in {slow}: ")
    assert re.search(r"download_bytes_per_s 5e\+07 -> [0-9.e+]+", line.group(1))
    assert notes == [line.group(1)]


def test_uncalibrated_study_has_no_calibration_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus" / "fan-in"
    corpus.mkdir(parents=True)
    (corpus / "Dockerfile").write_text(FAN_IN)

    code = main(["study", str(tmp_path / "corpus"), "--mode", "model", "--out", str(tmp_path / "out")])

    capsys.readouterr()
    assert code == 0
    assert "calibration" not in (tmp_path / "out" / "report.txt").read_text()
