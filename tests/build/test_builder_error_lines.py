"""Build errors name the Dockerfile path the user gave, the line and the instruction.

Each case is built for real (busybox base, RUN in bubblewrap) with the no-cache
strategy, so the builder itself, not the key engine, meets the failure.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from cachelab.build.builder import build
from cachelab.build.errors import (
    BuildError,
    CopyError,
    CopySourceNotFound,
    InstructionError,
    InstructionFailed,
    RunFailed,
    shorten_instruction,
)
from cachelab.build.layer_io import LayerMover
from cachelab.build.request import BuildRequest
from cachelab.build.stage_image import ImageLayer
from cachelab.cli import main

CASES = [
    pytest.param(
        "FROM busybox\nRUN echo start\nRUN exit 5\n",
        RunFailed, "3: `RUN exit 5` failed with exit code 5",
        id="run-fails",
    ),
    pytest.param(
        "FROM busybox\nCOPY missing.txt /x\n",
        CopySourceNotFound, "2: COPY/ADD source 'missing.txt' not found in build context ",
        id="copy-missing-file",
    ),
    pytest.param(
        "FROM busybox AS a\nRUN echo x > /x\nFROM busybox\nRUN true\nCOPY --from=a /nope /y\n",
        CopySourceNotFound, "5: COPY/ADD source '/nope' not found in stage 0 (a)",
        id="copy-from-missing-path",
    ),
    pytest.param(
        "FROM busybox AS a\nRUN ln -s /loop2 /loop1 && ln -s /loop1 /loop2\nFROM busybox\n"
        "COPY --from=a /loop1/x /y\n",
        InstructionFailed,
        "4: COPY --from=a /loop1/x /y: saving /loop1/x from stage 0 (a) failed: too many levels of symlinks",
        id="stage-file-save-fails",
    ),
    pytest.param(
        "FROM busybox\nRUN mkdir -p /d/a.txt\nCOPY a.txt /d/\n",
        CopyError, "3: COPY a.txt /d/: cannot copy a file over the directory /d/a.txt",
        id="copy-over-directory",
    ),
    pytest.param(
        "FROM busybox\nUSER nobodyhere\nRUN true\n",
        InstructionError, "3: RUN true: user 'nobodyhere' not found in the stage's /etc/passwd",
        id="run-unknown-user",
    ),
    pytest.param(
        "FROM busybox\nEXPOSE 80/xyz\n",
        InstructionError, "2: EXPOSE 80/xyz: invalid EXPOSE protocol in '80/xyz'",
        id="metadata-invalid",
    ),
    pytest.param(
        "FROM busybox\nRUN touch /f\nWORKDIR /f/sub\n",
        InstructionError, "3: WORKDIR /f/sub: cannot create /f/sub: /f exists and is not a directory",
        id="workdir-over-file",
    ),
]


def _request(tmp_path: Path, image_store: Path, text: str) -> BuildRequest:
    context = tmp_path / "context"
    context.mkdir()
    (context / "a.txt").write_text("a\n")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    return BuildRequest(dockerfile, context, strategy="no-cache", image_store=str(image_store))


@pytest.mark.parametrize(("text", "error_type", "expected"), CASES)
def test_error_names_path_line_instruction(
    tmp_path: Path, image_store: Path, text: str, error_type: type[BuildError], expected: str,
) -> None:
    request = _request(tmp_path, image_store, text)

    with pytest.raises(error_type) as caught:
        build(request, progress=False)

    message = str(caught.value)
    assert message.startswith(f"{request.dockerfile}:{expected}")
    assert caught.value.hint


def test_error_keeps_line_apart(tmp_path: Path, image_store: Path) -> None:
    request = _request(tmp_path, image_store, "FROM busybox\nRUN true\nEXPOSE 80/xyz\n")

    with pytest.raises(InstructionError) as caught:
        build(request, progress=False)

    error = caught.value
    assert error.line == 3
    assert error.instruction == "EXPOSE 80/xyz"
    assert error.path == str(request.dockerfile)
    assert error.message == "invalid EXPOSE protocol in '80/xyz'"


def test_cli_prints_path_as_given(
    tmp_path: Path, image_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    _request(tmp_path, image_store, "FROM busybox\nCOPY a.txt /a\nRUN touch /f\nWORKDIR /f/sub\n")
    monkeypatch.chdir(tmp_path)

    code = main([
        "build", "Dockerfile", "--context", "context", "--strategy", "no-cache",
        "--image-store", str(image_store), "--quiet",
    ])

    err = capsys.readouterr().err
    assert code == 1
    assert "cachelab: error: Dockerfile:4: WORKDIR /f/sub: cannot create /f/sub" in err


def test_long_instruction_shortened() -> None:
    text = "RUN " + "echo step && " * 20 + "true"

    short = shorten_instruction(text)

    assert len(short) <= 60
    assert short.endswith("...")
    assert text.startswith(short[:-3])
    assert shorten_instruction("RUN true") == "RUN true"


def test_message_without_line_unchanged() -> None:
    error = CopyError("cannot copy /a: not a regular file, directory or symlink")

    assert str(error) == "cannot copy /a: not a regular file, directory or symlink"


def test_locate_keeps_raise_site_line() -> None:
    error = InstructionError("invalid EXPOSE port 'x'", line=7)

    error.locate(9, "EXPOSE x")

    assert error.line == 7
    assert str(error) == "line 7: EXPOSE x: invalid EXPOSE port 'x'"


def test_copy_from_image_failure_names_line(
    tmp_path: Path, image_store: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A full disk cannot be produced on demand, so the unpack of the COPY --from image fails by hand.
    unpack = LayerMover.unpack

    def unpack_or_fail(self: LayerMover, layer: ImageLayer, root: Path) -> ImageLayer:
        if layer.origin == "copy-from-image":
            raise OSError(errno.ENOSPC, "No space left on device")
        return unpack(self, layer, root)

    monkeypatch.setattr(LayerMover, "unpack", unpack_or_fail)
    request = _request(tmp_path, image_store, "FROM busybox\nRUN true\nCOPY --from=busybox /bin/busybox /x\n")

    with pytest.raises(InstructionFailed) as caught:
        build(request, progress=False)

    message = str(caught.value)
    assert message.startswith(
        f"{request.dockerfile}:3: COPY --from=busybox /bin/busybox /x: unpacking image busybox for COPY --from failed"
    )
    assert "No space left on device" in message
