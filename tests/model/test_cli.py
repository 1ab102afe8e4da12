"""`cachelab study` and `cachelab compare --mode` on a small self-written corpus."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cachelab.cli import main
from cachelab.corpus.study import Study, StudySettings
from cachelab.corpus.study_output import StudyWriter, load_model_recording, read_study
from cachelab.oci.busybox import DEFAULT_BUSYBOX
from cachelab.record import Recording

FILES = {
    "fan-in/Dockerfile": (
        "FROM busybox:1.36 AS a\nCOPY a.txt /a\nRUN cat /a > /out-a\n\n"
        "FROM busybox:1.36 AS b\nRUN echo b > /out-b\n\n"
        "FROM busybox:1.36\nCOPY --from=a /out-a /srv/\nCOPY --from=b /out-b /srv/\n"
    ),
    "single/Dockerfile": "FROM alpine:3.20\nRUN echo hi > /hi\n",
    "broken/Dockerfile": "FROM alpine\nNOTANINSTRUCTION x\n",
}


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True)
        path.write_text(text)
    return root


def test_study_model_writes_outputs(corpus_dir, tmp_path, capsys):
    out = tmp_path / "out"

    code = main(["study", str(corpus_dir), "--mode", "model", "--out", str(out)])

    assert code == 0
    files = pd.read_parquet(out / "files.parquet").set_index("dockerfile_id")
    assert files.loc["broken/Dockerfile", "error_kind"] == "parse"
    assert files.loc["fan-in/Dockerfile", "stages_eliminated"] == 2
    recording = load_model_recording(out)
    assert set(recording.builds["engine"]) == {"model"}
    assert len(recording.builds) == 2 * 2 * 2
    summary = pd.read_parquet(out / "summary.parquet")
    assert set(summary["mode"]) == {"model"}
    for figure in ("savings-model.png", "eliminated.png", "blockers.png"):
        assert (out / figure).stat().st_size > 0
    report = (out / "report.txt").read_text()
    assert "assumption: unknown bases" in report
    assert "eliminated_share [kaniko-lookahead]" in capsys.readouterr().out


def test_compare_mode_model_delegates(corpus_dir, tmp_path):
    out = tmp_path / "out"

    code = main(["compare", str(corpus_dir), "--mode", "model", "--sample", "2", "--out", str(out)])

    assert code == 0
    assert len(pd.read_parquet(out / "files.parquet")) == 2


def test_study_calibrated_costs(corpus_dir, tmp_path):
    recorded = tmp_path / "recorded"
    main(["study", str(corpus_dir), "--mode", "model", "--out", str(recorded)])
    slow = tmp_path / "slow-recording"
    recording = load_model_recording(recorded)
    recording.spans["end_s"] = recording.spans["start_s"] + 10 * (recording.spans["end_s"] - recording.spans["start_s"])
    recording.save(slow)
    out = tmp_path / "out"

    code = main(["study", str(corpus_dir), "--mode", "model", "--calibrate", str(slow), "--out", str(out)])

    assert code == 0
    default = pd.read_parquet(recorded / "files.parquet").set_index("dockerfile_id")
    calibrated = pd.read_parquet(out / "files.parquet").set_index("dockerfile_id")
    fan_in = "fan-in/Dockerfile"
    assert calibrated.loc[fan_in, "model_lookahead_warm_s"] > default.loc[fan_in, "model_lookahead_warm_s"]


def test_study_requires_mode(corpus_dir, tmp_path):
    with pytest.raises(SystemExit):
        main(["study", str(corpus_dir), "--out", str(tmp_path / "out")])


@pytest.mark.sandbox
@pytest.mark.skipif(
    shutil.which("bwrap") is None or not os.path.isfile(DEFAULT_BUSYBOX),
    reason="needs bubblewrap and Debian's busybox-static",
)
def test_study_replay_writes_measured_tables(corpus_dir, tmp_path, capsys):
    out = tmp_path / "out"

    code = main(["study", str(corpus_dir), "--mode", "replay", "--scale", "2000", "--out", str(out)])

    assert code == 0
    recording = Recording.load(out / "replay")
    assert set(recording.builds["engine"]) == {"cachelab"}
    assert set(recording.builds["dockerfile_id"]) == {"fan-in/Dockerfile"}
    direction = pd.read_parquet(out / "direction.parquet").set_index("mode")
    assert direction.loc["measured", "stages_sign"] == direction.loc["model", "stages_sign"] == 1
    assert "(1 of 1 replayed files: measured saving in stages built has the model's sign)" in capsys.readouterr().out


def test_study_writer_chunks(tmp_path):
    out = tmp_path / "out"
    texts = {f"f{number}": FILES["fan-in/Dockerfile"] for number in range(5)}
    texts["broken"] = FILES["broken/Dockerfile"]

    with Study(StudySettings(record_events=True)) as study, StudyWriter(out, chunk_files=2) as writer:
        for identifier, text in texts.items():
            writer.add(study.study_text(text, identifier))

    files, stages = read_study(out)
    assert list(files["dockerfile_id"]) == list(texts)
    assert len(stages) == 5 * 3 * 3
    assert sorted(path.name for path in (out / "model").iterdir()) == ["part-00000", "part-00001", "part-00002"]
    assert len(load_model_recording(out).builds) == 5 * 4
    assert list(stages.loc[stages["profile"] == "kaniko", "key_blockers"].iloc[2]) == ["inference-disabled"]
