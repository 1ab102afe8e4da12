"""Output files of `keys --parts`: missing folders are created, and write errors name the option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachelab.cli import main


@pytest.fixture
def dockerfile(tmp_path: Path) -> Path:
    context = tmp_path / "context"
    context.mkdir()
    (context / "app.txt").write_text("app\n")
    path = tmp_path / "Dockerfile"
    path.write_text("FROM scratch\nCOPY app.txt /app.txt\n")
    return path


def test_keys_parts_creates_folders(dockerfile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = tmp_path / "new" / "deeper" / "parts.json"

    code = main(["keys", str(dockerfile), "--context", str(tmp_path / "context"), "--parts", str(parts)])

    assert code == 0, capsys.readouterr().err
    rows = json.loads(parts.read_text())
    assert [row["instruction"] for row in rows] == ["COPY app.txt /app.txt"]


def test_keys_parts_unwritable_names_option(dockerfile: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("")
    parts = tmp_path / "afile" / "parts.json"

    code = main(["keys", str(dockerfile), "--context", str(tmp_path / "context"), "--parts", str(parts)])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: failed to write --parts {parts}: " in err
    assert "[Errno" not in err
    assert "cachelab: hint: give --parts a path in a folder you can write to" in err
