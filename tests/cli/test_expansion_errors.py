"""Expansion errors and unknown instructions name the Dockerfile and line and give a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main

# (case id, Dockerfile text, the error line after the path, the hint line)
CASES = [
    (
        "required-arg",
        "FROM scratch\nARG A=${B:?required}\n",
        ':2: failed to process "${B:?required}": B: required',
        "Give B a value with --build-arg B=VALUE or an earlier ARG or ENV.",
    ),
    (
        "unclosed-env",
        "FROM scratch\nENV X=${A\n",
        ":2: failed to process \"${A\": syntax error: missing '}'",
        "Close each `${` with `}` and each quote in that instruction",
    ),
    (
        "unknown-instruction",
        "FROM scratch\nBOGUS x\n",
        ":2: unknown instruction: BOGUS",
        "Start the line with a Dockerfile instruction such as RUN or COPY",
    ),
]


@pytest.mark.parametrize("command", ["plan", "keys"])
@pytest.mark.parametrize(
    ("text", "error", "hint"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_error_names_path_and_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, text: str, error: str, hint: str
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    context = tmp_path / "context"
    context.mkdir()

    code = main([command, "--context", str(context), str(dockerfile)])

    lines = capsys.readouterr().err.splitlines()
    assert code == 1
    assert lines[0] == f"cachelab: error: {dockerfile}{error}"
    assert "<string>" not in lines[0]
    assert lines[1].startswith(f"cachelab: hint: {hint}")
