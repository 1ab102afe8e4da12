"""A RUN longer than Linux accepts as one argument fails with a hint about that limit."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from cachelab.build.errors import instruction_failed
from cachelab.cli import main


def test_long_run_names_argument_limit(
    image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # 20,000 continuation lines make a shell script of about 400 KB, over Linux's 128 KiB per argument.
    lines = ["FROM busybox", "RUN true \\"]
    lines += [f"  && echo line{index:05d} \\" for index in range(20000)]
    lines += ["  && true"]
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("\n".join(lines) + "\n")
    context = tmp_path / "context"
    context.mkdir()

    code = main([
        "build", str(dockerfile), "--context", str(context), "--quiet", "--strategy", "no-cache",
        "--image-store", str(image_store),
    ])

    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[0].startswith(f"cachelab: error: {dockerfile}:2: RUN true ")
    assert "is too long for the argument list of the sandbox" in err[0]
    assert err[1] == (
        "cachelab: hint: Split the RUN into shorter ones, or COPY its commands into the image as a "
        "script and RUN that, because Linux limits one argument to 128 KiB."
    )


def test_other_os_error_keeps_path_hint() -> None:
    error = instruction_failed(
        OSError(errno.ENOSPC, "No space left on device", "/work/x"), line=3, instruction="RUN x",
    )

    assert error.message == "[Errno 28] No space left on device: '/work/x'"
    assert error.hint is not None
    assert error.hint.startswith("Check the path named above")
