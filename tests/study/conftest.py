"""Fixtures of the study tests: a small build input with a Dockerfile outside its context."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cachelab.study import BuildInput, Workspace, resolve_input

# A fixed modification time, so tests can tell whether a copy kept it.
FIXED_MTIME = 1_600_000_000


@pytest.fixture
def build_input(tmp_path: Path) -> BuildInput:
    example = tmp_path / "example"
    context = example / "context"
    (context / "src").mkdir(parents=True)
    (example / "Dockerfile").write_text("FROM busybox\nCOPY src /src\nRUN cat /src/app.txt\n")
    (context / "src" / "app.txt").write_text("version 1\n")
    (context / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(context / "run.sh", 0o644)
    os.symlink("src/app.txt", context / "link")
    for path in (context / "src" / "app.txt", context / "run.sh"):
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    return resolve_input(example)


@pytest.fixture
def workspace(build_input: BuildInput, tmp_path: Path) -> Workspace:
    return Workspace.create(build_input, tmp_path / "work", build_args={"A": "1"})
