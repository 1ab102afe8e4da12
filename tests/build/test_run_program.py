"""A RUN step whose shell or program is missing from the stage fails before the sandbox starts.

The build cases run for real (busybox base, RUN in bubblewrap) with the
no-cache strategy.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cachelab.build.builder import build
from cachelab.build.errors import RunProgramMissing
from cachelab.build.request import BuildRequest
from cachelab.build.run_program import program_found
from cachelab.build.sandbox import SandboxMount

PATH_ENV = "PATH=/usr/local/bin:/usr/bin:/bin"


def _build(tmp_path: Path, image_store: Path, text: str) -> None:
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    build(BuildRequest(dockerfile, context, strategy="no-cache", image_store=str(image_store)), progress=False)


def test_scratch_run_names_missing_shell(tmp_path: Path, image_store: Path) -> None:
    with pytest.raises(RunProgramMissing) as caught:
        _build(tmp_path, image_store, "FROM scratch\nRUN echo hi\n")

    error = caught.value
    assert str(error) == (
        f"{tmp_path / 'Dockerfile'}:2: `RUN echo hi` cannot run: the stage has no /bin/sh, the default "
        "shell of a shell-form RUN (a stage FROM scratch has no files until COPY adds them)"
    )
    assert error.program == "/bin/sh"
    assert error.hint is not None
    assert error.hint.startswith("Base the stage on an image that has /bin/sh")
    assert "fix the command" not in error.hint


def test_missing_shell_from_shell_instruction(tmp_path: Path, image_store: Path) -> None:
    with pytest.raises(RunProgramMissing) as caught:
        _build(tmp_path, image_store, 'FROM busybox\nSHELL ["/bin/bash", "-c"]\nRUN echo hi\n')

    assert "the stage has no /bin/bash, the shell that SHELL sets" in str(caught.value)
    assert caught.value.line == 3


def test_missing_exec_form_program(tmp_path: Path, image_store: Path) -> None:
    with pytest.raises(RunProgramMissing) as caught:
        _build(tmp_path, image_store, 'FROM busybox\nRUN ["/opt/tool", "--version"]\n')

    assert "cannot run: the stage has no program '/opt/tool'" in str(caught.value)


def test_exec_form_name_in_path_runs(tmp_path: Path, image_store: Path) -> None:
    _build(tmp_path, image_store, 'FROM busybox\nENV PATH=/bin\nRUN ["true"]\n')


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A stage root with /bin/busybox, /bin/sh linking to it by an absolute target, and /bin/loop linking to itself."""
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_text("")
    os.symlink("/bin/busybox", root / "bin" / "sh")
    os.symlink("/bin/loop", root / "bin" / "loop")
    return root


@pytest.mark.parametrize(("program", "env", "workdir", "found"), [
    ("/bin/sh", (), "/", True),
    ("/bin/bash", (), "/", False),
    ("busybox", (PATH_ENV,), "/", True),
    ("bash", (PATH_ENV,), "/", False),
    ("bash", (), "/", True),
    ("./busybox", (), "/bin", True),
    ("../bin/sh", (), "/bin", True),
    ("/bin/loop", (), "/", False),
    ("/bin", (), "/", False),
])
def test_program_found_in_root(root: Path, program: str, env: tuple[str, ...], workdir: str, found: bool) -> None:
    assert program_found(str(root), program, env=env, workdir=workdir, mounts=()) is found


def test_program_under_mount_found(root: Path, tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    mounts = (SandboxMount("bind", "/dev/.cachelab-heredoc/heredoc-1", str(script)),)

    assert program_found(str(root), "/dev/.cachelab-heredoc/heredoc-1", env=(), workdir="/", mounts=mounts)
