"""The CLI error boundary: one line per error, and quiet on a closed pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cachelab.cli._errors import EXIT_BROKEN_PIPE, EXIT_FAILURE, error_boundary


def test_closed_stdout_pipe_exits_quietly(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch AS a\nFROM a AS b\n")

    process = subprocess.Popen(
        [sys.executable, "-m", "cachelab", "stages", str(dockerfile)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    # Closing the read end before the command writes is what `| head -0` does.
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate()

    assert process.returncode == EXIT_BROKEN_PIPE
    assert err == b""


def test_other_broken_pipe_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with error_boundary() as outcome:
        raise BrokenPipeError(32, "Broken pipe")

    assert outcome.code == EXIT_FAILURE
    assert capsys.readouterr().err == "cachelab: error: [Errno 32] Broken pipe\n"
