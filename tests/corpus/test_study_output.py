"""The study writer's Parquet parts."""

from __future__ import annotations

from pathlib import Path

from cachelab.corpus.study import Study, StudySettings
from cachelab.corpus.study_output import StudyWriter, load_model_recording

FAN_IN = (
    "FROM busybox:1.36 AS a\nRUN echo a > /a\n\n"
    "FROM busybox:1.36\nCOPY --from=a /a /a\n"
)


def test_writer_removes_stale_parts(tmp_path: Path):
    out = tmp_path / "out"
    (out / "model" / "part-00003").mkdir(parents=True)
    (out / "model" / "part-00003" / "builds.parquet").write_text("from an earlier study\n")

    with Study(StudySettings(record_events=True)) as study, StudyWriter(out) as writer:
        writer.add(study.study_text(FAN_IN, "fan-in"))

    assert sorted(path.name for path in (out / "model").iterdir()) == ["part-00000"]
    assert set(load_model_recording(out).builds["dockerfile_id"]) == {"fan-in"}
