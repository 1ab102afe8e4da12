"""`cachelab build` stopped by SIGTERM or SIGINT removes its work directory and exits 128 + the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.processes import STARTUP_DEADLINE_S, wait_for_run


@pytest.mark.parametrize(("sent", "code", "message"), [
    (signal.SIGTERM, 143, "cachelab: terminated by SIGTERM"),
    (signal.SIGINT, 130, "cachelab: interrupted"),
])
def test_signal_removes_work_dir(
    image_store: Path, tmp_path: Path, sent: signal.Signals, code: int, message: str,
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN touch /started && sleep 30\n")

    process = subprocess.Popen(
        [sys.executable, "-m", "cachelab", "build", str(dockerfile), "--context", str(context), "--quiet",
         "--image-store", str(image_store), "--cache-repo", str(tmp_path / "cache")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(temp)},
    )
    try:
        wait_for_run(process, temp)
        process.send_signal(sent)
        _, err = process.communicate(timeout=STARTUP_DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == code
    assert message in err.decode()
    assert list(temp.glob("cachelab-build-*")) == []
