"""`cachelab cache ls --dockerfile` takes FILE as build, plan and keys do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.oci.layout import LayoutStore
from tests.fixtures.builder import ExampleBuilder


def test_ls_example_directory_marks_hits(builder: Callable[..., ExampleBuilder], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    cache = str(tmp_path / "cache")
    example = builder("two-stage", cache=cache)
    example.build("lookahead")

    code = main(["cache", "ls", cache, "--dockerfile", str(example.dockerfile.parent),
                 "--image-store", str(example.image_store)])
    captured = capsys.readouterr()

    assert code == 0, captured.err
    assert "4 entries, 4 would hit" in captured.out


def test_ls_context_overrides_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    LayoutStore(tmp_path / "cache").ensure()
    example = tmp_path / "example"
    (example / "context").mkdir(parents=True)
    (example / "Dockerfile").write_text("FROM scratch\nCOPY app.txt /app.txt\n")
    context = tmp_path / "other-context"
    context.mkdir()
    (context / "app.txt").write_text("app\n")

    # Only the other context has app.txt, so planning succeeds only with --context.
    code = main(["cache", "ls", str(tmp_path / "cache"), "--dockerfile", str(example), "--context", str(context),
                 "--image-store", str(tmp_path / "images")])
    captured = capsys.readouterr()

    assert code == 0, captured.err
    assert "0 entries, 0 would hit" in captured.out


def test_ls_dockerfile_without_context_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    LayoutStore(tmp_path / "cache").ensure()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")

    code = main(["cache", "ls", str(tmp_path / "cache"), "--dockerfile", str(dockerfile)])
    err = capsys.readouterr().err

    assert code == 1
    assert f"no build context for {dockerfile}" in err
    assert "cachelab: hint: Pass --context DIR, or give an example directory" in err


def test_ls_help_names_example_directory(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["cache", "ls", "--help"])
    text = " ".join(capsys.readouterr().out.split())

    assert "example directory" in text


def test_ls_missing_store_hint_names_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cache", "ls", str(tmp_path / "missing")])
    err = capsys.readouterr().err

    assert code == 1
    assert "cachelab: hint: Pass the directory a build used as --cache-repo, or oci:DIR" in err
