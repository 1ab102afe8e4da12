"""Output options: `keys --parts` creates missing folders, replaces a file only with --force and names
the option in write errors, and `build` rejects an empty --record or --scenario."""

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


def test_keys_parts_existing_rejected(dockerfile: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    parts = tmp_path / "parts.json"
    parts.write_text("earlier parts\n")

    code = main(["keys", str(dockerfile), "--context", str(tmp_path / "context"), "--parts", str(parts)])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: --parts {parts} already exists" in err
    assert "add --force to replace it" in err
    assert parts.read_text() == "earlier parts\n"


def test_keys_parts_force_replaces(dockerfile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = tmp_path / "parts.json"
    parts.write_text("earlier parts\n")

    code = main(["keys", str(dockerfile), "--context", str(tmp_path / "context"), "--parts", str(parts), "--force"])

    assert code == 0, capsys.readouterr().err
    rows = json.loads(parts.read_text())
    assert [row["instruction"] for row in rows] == ["COPY app.txt /app.txt"]


def test_keys_parts_directory_rejected(dockerfile: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["keys", str(dockerfile), "--context", str(tmp_path / "context"), "--parts", str(tmp_path),
                 "--force"])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: --parts {tmp_path} is a directory" in err


@pytest.mark.parametrize(("option", "value"), [("--record", ""), ("--scenario", ""), ("--scenario", "  ")])
def test_build_empty_value_rejected(option: str, value: str, dockerfile: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["build", str(dockerfile), "--context", str(tmp_path / "context"), option, value])

    err = capsys.readouterr().err
    assert raised.value.code == 2
    assert f"argument {option}: invalid value {value!r}: expected a non-empty value" in err
