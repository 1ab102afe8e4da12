"""`cachelab stages` prints the stage table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachelab.cli import main

DOCKERFILE = """\
ARG BASE=busybox
FROM ${BASE} AS deps
RUN echo deps
FROM deps AS build
RUN echo build
FROM alpine AS lint
FROM scratch AS final
COPY --from=build /out /out
"""


@pytest.fixture
def dockerfile_path(tmp_path: Path) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(DOCKERFILE, encoding="utf-8")
    return path


def test_stages_table(dockerfile_path: Path, capsys: pytest.CaptureFixture[str]):
    code = main(["stages", str(dockerfile_path), "--build-arg", "BASE=debian"])
    lines = capsys.readouterr().out.splitlines()

    assert code == 0
    assert lines[0].split() == [
        "index",
        "name",
        "base",
        "depends",
        "on",
        "live",
        "squashed",
        "into",
    ]
    assert lines[1].split() == ["0", "deps", "debian", "-", "yes", "1"]
    assert lines[2].split() == ["1", "build", "stage", "0", "(deps)", "0", "yes", "-"]
    assert lines[3].split() == ["2", "lint", "alpine", "-", "no", "-"]
    assert lines[4].split() == ["3", "final", "scratch", "1", "yes", "(target)", "-"]


def test_stages_json_with_targets(dockerfile_path: Path, capsys: pytest.CaptureFixture[str]):
    code = main(
        [
            "stages",
            str(dockerfile_path),
            "--target",
            "lint,final",
            "--build-arg=BASE=x",
            "--format",
            "json",
        ]
    )
    data = json.loads(capsys.readouterr().out)

    assert code == 0
    assert data["targets"] == [2, 3]
    assert data["push"] == 2
    assert data["final"] == 3
    assert data["stages"][0]["base_image"] == "x"
    assert [stage["absorbed"] for stage in data["built"]] == [[0, 1], [2], [3]]
    assert data["built"][0]["instructions"] == ["RUN echo deps", "RUN echo build"]


def test_stages_repeated_target(dockerfile_path: Path, capsys: pytest.CaptureFixture[str]):
    code = main(
        [
            "stages",
            str(dockerfile_path),
            "--target",
            "build",
            "--target",
            "lint",
            "--format",
            "json",
        ]
    )
    data = json.loads(capsys.readouterr().out)

    assert code == 0
    assert data["targets"] == [1, 2]


def test_stages_unknown_target_fails(dockerfile_path: Path, capsys: pytest.CaptureFixture[str]):
    code = main(["stages", str(dockerfile_path), "--target", "buld"])
    err = capsys.readouterr().err

    assert code == 1
    assert "target stage 'buld' not found" in err
    assert "cachelab: hint: Use 'build' if that is the stage you meant." in err


def test_stages_syntax_error_names_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "Dockerfile"
    path.write_text(
        "FROM a\nRUN true\nCOPY --from=later /x /y\nFROM b AS later\n", encoding="utf-8"
    )

    code = main(["stages", str(path)])
    err = capsys.readouterr().err

    assert code == 1
    assert f"{path}:3: --from=later refers to stage 1" in err


def test_stages_bad_platform_fails(dockerfile_path: Path, capsys: pytest.CaptureFixture[str]):
    code = main(["stages", str(dockerfile_path), "--platform", "linux"])
    err = capsys.readouterr().err

    assert code == 1
    assert "invalid platform 'linux'" in err
    assert "write the platform as os/arch" in err


def test_stages_bare_build_arg_reads_environment(
    dockerfile_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("BASE", "from-env")

    code = main(["stages", str(dockerfile_path), "--build-arg", "BASE", "--format", "json"])
    data = json.loads(capsys.readouterr().out)

    assert code == 0
    assert data["stages"][0]["base_image"] == "from-env"
