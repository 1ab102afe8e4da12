"""`recording_from_runs` keeps every readable build of a batch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cachelab.ingest.errors import IngestError
from cachelab.ingest.kaniko import ingest_kaniko_logs, recording_from_runs
from cachelab.ingest.kaniko_run import KanikoInstruction, KanikoRun

DATA = Path(__file__).parent / "data"


def _run(build_id: str, *, repeated_instruction: bool = False) -> KanikoRun:
    run = KanikoRun(build_id=build_id, started_at=datetime(2026, 1, 1, tzinfo=UTC), wall_s=1.0)
    run.stage(0)
    run.instructions = [KanikoInstruction(stage_index=0, index=0, text="RUN true")]
    if repeated_instruction:
        run.instructions.append(KanikoInstruction(stage_index=0, index=0, text="RUN false"))
    return run


def test_contradictory_build_skipped(caplog: pytest.LogCaptureFixture) -> None:
    runs = [_run("good-1"), _run("bad", repeated_instruction=True), _run("good-2")]

    with caplog.at_level("WARNING", logger="cachelab.ingest"):
        recording = recording_from_runs(runs, run_id="r", scenario=None)

    assert recording.builds["build_id"].tolist() == ["good-1", "good-2"]
    assert recording.instructions["build_id"].tolist() == ["good-1", "good-2"]
    assert "skipped build bad: build 'bad' reports instruction (0, 0) more than once" in caplog.text
    assert "Emit one event" not in caplog.text


def test_only_contradictory_builds_raise() -> None:
    runs = [_run("bad", repeated_instruction=True)]

    with pytest.raises(IngestError, match="no build can be read: 1 have contradictory events. The first: ") as raised:
        recording_from_runs(runs, run_id="r", scenario=None)
    assert "kaniko" not in (raised.value.hint or "")


def test_same_log_twice_is_one_build(caplog: pytest.LogCaptureFixture) -> None:
    log = DATA / "kaniko-classic-cold.color.log"

    with caplog.at_level("WARNING", logger="cachelab.ingest"):
        recording = ingest_kaniko_logs([log, log])

    assert len(recording.builds) == 1
    assert "skipped a second reading of build kaniko-log-" in caplog.text
