"""A build recorded with --record and stopped by a signal records why it stopped and the stages that had started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cachelab.record import Recording
from tests.fixtures.processes import STARTUP_DEADLINE_S, wait_for_run


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_recording_names_signal_and_stages(
    image_store: Path, tmp_path: Path, sent: signal.Signals, code: int,
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM busybox AS first\nRUN echo one > /one\n"
        "FROM busybox\nCOPY --from=first /one /one\nRUN touch /started && sleep 30\n"
    )
    record = tmp_path / "record"

    process = subprocess.Popen(
        [sys.executable, "-m", "cachelab", "build", str(dockerfile), "--context", str(context), "--quiet",
         "--image-store", str(image_store), "--cache-repo", str(tmp_path / "cache"), "--record", str(record)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(temp)},
    )
    try:
        wait_for_run(process, temp)
        process.send_signal(sent)
        process.communicate(timeout=STARTUP_DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    recording = Recording.load(record)
    builds = recording.builds
    stages = recording.stages
    assert process.returncode == code
    assert list(builds["outcome"]) == ["error"]
    assert list(builds["error"]) == [f"interrupted by {sent.name}"]
    assert sorted(stages["stage_index"]) == [0, 1]
