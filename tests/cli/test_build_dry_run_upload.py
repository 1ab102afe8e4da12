"""`cachelab build --dry-run` names the cache store in UPLOAD lines, the default store too."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from tests.fixtures.builder import write_example

DOCKERFILE = """\
FROM busybox
RUN echo hi > /hi
"""


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return write_example(tmp_path / "example", DOCKERFILE)


def upload_lines(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(argv) == 0
    return [line.strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("UPLOAD ")]


def test_upload_names_default_store(
    example: Path, image_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "home"))

    lines = upload_lines(["build", str(example), "--dry-run", "--image-store", str(image_store)], capsys)

    assert len(lines) == 1
    assert lines[0].startswith(f"UPLOAD {tmp_path / 'home' / 'layer-cache'}:")


def test_upload_names_given_store(
    example: Path, image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    cache = tmp_path / "cache"

    lines = upload_lines(
        ["build", str(example), "--dry-run", "--cache-repo", str(cache), "--image-store", str(image_store)], capsys,
    )

    assert len(lines) == 1
    assert lines[0].startswith(f"UPLOAD {cache}:")
