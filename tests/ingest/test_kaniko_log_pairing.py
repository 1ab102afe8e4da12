"""`ingest kaniko-trace --log` rejects a log that belongs to another build."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.ingest.errors import IngestError
from cachelab.ingest.kaniko import ingest_kaniko_traces

DATA = Path(__file__).parent / "data"
TRACE = DATA / "kaniko-classic-cold.otlp.json"
OWN_LOG = DATA / "kaniko-classic-cold.color.log"


def _rejection(log: Path) -> str:
    with pytest.raises(IngestError) as caught:
        ingest_kaniko_traces([TRACE], logs=[log])
    return str(caught.value)


def test_own_log_accepted() -> None:
    recording = ingest_kaniko_traces([TRACE], logs=[OWN_LOG])

    assert recording.stages["action"].tolist() == ["built"] * 3


def test_log_with_eliminated_stage_rejected() -> None:
    message = _rejection(DATA / "kaniko-lookahead-warm.text.log")

    assert message.startswith(f"--log {DATA / 'kaniko-lookahead-warm.text.log'} is not the log of the build in {TRACE}")
    assert "the trace ran `RUN echo one > /one` in stage 0, which the log marks eliminated" in message


def test_log_with_fewer_stages_rejected() -> None:
    message = _rejection(DATA / "kaniko-error.json.log")

    assert "the trace has stage 1, and the log has 1 stages (0)" in message


def test_log_with_other_command_rejected(tmp_path: Path) -> None:
    log = tmp_path / "edited.log"
    log.write_text(OWN_LOG.read_text().replace("RUN cat /one", "RUN cat /two"))

    message = _rejection(log)

    assert "command 1 of stage 1 is `RUN cat /one` in the trace and `RUN cat /two` in the log" in message


def test_log_of_other_time_rejected() -> None:
    # Same Dockerfile and stages, but the log's builds ran a month before the trace's.
    message = _rejection(DATA / "kaniko-cache-failures.debug.log")

    assert "the trace ran from 2026-12-04T16:00:00+00:00" in message
    assert "outside the log's time stamps (2026-11-02T11:00:00.010000+00:00" in message


def test_cli_rejects_other_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = DATA / "kaniko-lookahead-warm.text.log"

    code = main(["ingest", "kaniko-trace", str(TRACE), "--log", str(log), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err

    assert code == 1
    assert f"--log {log} is not the log of the build in {TRACE}" in err
    assert "cachelab: hint: Pass the log of the same kaniko build" in err
    assert not (tmp_path / "out").exists()
