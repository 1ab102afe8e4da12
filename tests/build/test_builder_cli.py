"""`cachelab build`: example directories, --dry-run, --record and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from tests.fixtures.builder import EXAMPLES


def test_cli_builds_example_directory(
    image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    record = tmp_path / "record"
    code = main([
        "build", str(EXAMPLES / "two-stage"), "--quiet", "--image-store", str(image_store),
        "--cache-repo", str(tmp_path / "cache"), "--record", str(record),
    ])

    assert code == 0
    assert capsys.readouterr().out.strip().startswith("sha256:")
    assert sorted(path.name for path in record.iterdir()) == [
        "builds.parquet", "instructions.parquet", "spans.parquet", "stages.parquet",
    ]


def test_cli_record_tables_load(image_store: Path, tmp_path: Path) -> None:
    from cachelab.record import Recording

    record = tmp_path / "record"
    for _ in range(2):
        assert main([
            "build", str(EXAMPLES / "two-stage"), "--quiet", "--image-store", str(image_store),
            "--cache-repo", str(tmp_path / "cache"), "--record", str(record),
        ]) == 0

    tables = Recording.load(record).tables()
    stages = tables["stages"]
    assert list(stages["stage_index"]) == [0, 1]
    assert list(stages["action"]) == ["squashed", "built"]
    assert int(stages["bytes_downloaded"].fillna(0).sum()) == 0


def test_cli_dry_run_prints_plan(image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([
        "build", str(EXAMPLES / "two-stage" / "Dockerfile"), "--context", str(EXAMPLES / "two-stage" / "context"),
        "--dry-run", "--image-store", str(image_store), "--cache-repo", str(tmp_path / "cache"),
    ])

    out = capsys.readouterr().out
    assert code == 0
    assert "FROM busybox AS base" in out
    assert "CACHE MISS" in out
    assert not (tmp_path / "cache").exists()


def test_cli_needs_context_for_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", str(EXAMPLES / "two-stage" / "Dockerfile")])

    err = capsys.readouterr().err
    assert code == 1
    assert "no build context" in err
    assert "hint: Pass --context DIR" in err


def test_cli_records_failed_build(image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cachelab.record import Recording

    context = tmp_path / "context"
    context.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN exit 3\n")
    record = tmp_path / "record"

    code = main([
        "build", str(dockerfile), "--context", str(context), "--quiet", "--image-store", str(image_store),
        "--cache-repo", str(tmp_path / "cache"), "--record", str(record),
    ])

    assert code == 1
    assert f"cachelab: error: {dockerfile}:2: `RUN exit 3` failed with exit code 3" in capsys.readouterr().err
    builds = Recording.load(record).builds
    assert builds["outcome"].tolist() == ["error"]
    assert "exit code 3" in builds["error"].iloc[0]


def test_cli_missing_copy_source_names_file(
    image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nCOPY nosuch /x\n")

    code = main([
        "build", str(dockerfile), "--context", str(context), "--quiet", "--image-store", str(image_store),
        "--cache-repo", str(tmp_path / "cache"),
    ])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: {dockerfile}:2: COPY/ADD source 'nosuch' not found in {context}" in err
