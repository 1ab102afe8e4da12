"""Warnings about RUN bind mounts from another stage name the Dockerfile and come once per mount."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.buildargs import BuildArgs, StageEnv
from cachelab.keys.parts import bind_mount_warnings, run_file_inputs

TEXT = "FROM scratch AS tools\nFROM scratch\nRUN --mount=type=bind,from=tools,target=/t true\n"


def _key_run_twice(tmp_path: Path) -> None:
    run = parse_dockerfile(TEXT).stages[1].instructions[0]
    for _ in range(2):
        state = StageEnv.for_base(["PATH=/bin"], BuildArgs())
        run_file_inputs(run, state, context_root=str(tmp_path), run_mount_bind=True)


def test_warning_names_dockerfile_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cachelab.keys.parts")

    with bind_mount_warnings("ci/Dockerfile") as found:
        _key_run_twice(tmp_path)

    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        "ci/Dockerfile:3: bind mount from 'tools' is not hashed (kaniko skips cross-stage bind mounts)"
    ]
    assert found.found == {(3, "tools")}


def test_collected_warnings_not_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cachelab.keys.parts")

    with bind_mount_warnings("ci/Dockerfile", collect=True) as found:
        _key_run_twice(tmp_path)

    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert found.found == {(3, "tools")}
