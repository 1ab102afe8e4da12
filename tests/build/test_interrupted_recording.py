"""A build recorded with --record and stopped by SIGINT records why it stopped and the stages that had started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cachelab.record import Recording

# A deadline for reaching the RUN, so a broken build fails the test instead of hanging it.
STARTUP_DEADLINE_S = 120


def test_sigint_recording_names_signal_and_stages(image_store: Path, tmp_path: Path) -> None:
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
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while not list(temp.glob("cachelab-build-*/stages/*/started")):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the RUN never started: {process.stderr.read().decode() if process.stderr else ''}")
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=STARTUP_DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    recording = Recording.load(record)
    builds = recording.builds
    stages = recording.stages
    assert process.returncode == 130
    assert list(builds["outcome"]) == ["error"]
    assert list(builds["error"]) == ["interrupted by SIGINT"]
    assert sorted(stages["stage_index"]) == [0, 1]
