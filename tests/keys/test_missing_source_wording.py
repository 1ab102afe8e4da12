"""A missing source is worded for the instruction that names it: COPY/ADD or a RUN bind mount."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main


def _plan_errors(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    (tmp_path / "context").mkdir()
    code = main(["plan", "--context", str(tmp_path / "context"), str(dockerfile)])
    assert code == 1
    return capsys.readouterr().err.splitlines()


def test_run_bind_mount_source_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _plan_errors(tmp_path, "FROM scratch\nRUN --mount=type=bind,source=/etc,target=/x true\n", capsys)

    context = tmp_path / "context"
    assert lines[0] == f"cachelab: error: {tmp_path / 'Dockerfile'}:2: RUN bind mount source '/etc' not found in {context}"
    assert lines[1].startswith("cachelab: hint: Check the mount's source= path, which is relative to the build context")


def test_copy_source_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _plan_errors(tmp_path, "FROM scratch\nCOPY app /app\n", capsys)

    context = tmp_path / "context"
    assert lines[0] == f"cachelab: error: {tmp_path / 'Dockerfile'}:2: COPY/ADD source 'app' not found in {context}"
    assert lines[1].startswith("cachelab: hint: Check the path relative to the build context or source stage")
