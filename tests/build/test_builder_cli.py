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
    for replace in ([], ["--force"]):
        assert main([
            "build", str(EXAMPLES / "two-stage"), "--quiet", "--image-store", str(image_store),
            "--cache-repo", str(tmp_path / "cache"), "--record", str(record), *replace,
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


def build_two_stage(image_store: Path, tmp_path: Path, record: Path, *options: str) -> int:
    return main([
        "build", str(EXAMPLES / "two-stage"), "--quiet", "--image-store", str(image_store),
        "--cache-repo", str(tmp_path / "cache"), "--record", str(record), *options,
    ])


def test_cli_record_rejects_existing_recording(
    image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from cachelab.record import Recording

    record = tmp_path / "record"
    assert build_two_stage(image_store, tmp_path, record) == 0
    first = Recording.load(record).builds["build_id"].tolist()
    capsys.readouterr()

    code = build_two_stage(image_store, tmp_path, record)

    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert f"cachelab: error: --record {record} already contains a recording (builds.parquet, " in captured.err
    assert "cachelab: hint: Pass a new directory, or add --force to replace that recording." in captured.err
    assert Recording.load(record).builds["build_id"].tolist() == first


def test_cli_record_force_replaces_compare_outputs(image_store: Path, tmp_path: Path) -> None:
    from cachelab.record import Recording

    record = tmp_path / "record"
    assert build_two_stage(image_store, tmp_path, record) == 0
    first = Recording.load(record).builds["build_id"].tolist()
    (record / "timeline-lookahead.png").write_bytes(b"old figure")
    (record / "notes.txt").write_text("the user's own file\n")

    code = build_two_stage(image_store, tmp_path, record, "--force")

    builds = Recording.load(record).builds
    assert code == 0
    assert len(builds) == 1
    assert builds["build_id"].tolist() != first
    assert not (record / "timeline-lookahead.png").exists()
    assert (record / "notes.txt").read_text() == "the user's own file\n"


def test_cli_record_into_directory_without_recording(image_store: Path, tmp_path: Path) -> None:
    record = tmp_path / "record"
    record.mkdir()
    (record / "timeline-lookahead.png").write_bytes(b"not from a recording here")

    code = build_two_stage(image_store, tmp_path, record)

    assert code == 0
    assert (record / "builds.parquet").is_file()
    assert (record / "timeline-lookahead.png").read_bytes() == b"not from a recording here"


def test_cli_record_rejects_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "record"
    record.write_text("a file\n")

    code = main(["build", str(EXAMPLES / "two-stage"), "--record", str(record)])

    assert code == 1
    assert f"cachelab: error: --record {record} is not a directory" in capsys.readouterr().err


def test_progress_counts_singular_and_plural() -> None:
    import io
    from types import SimpleNamespace

    from cachelab.build.progress import Progress

    stream = io.StringIO()
    progress = Progress(True, stream)
    for hits, misses in ((1, 1), (0, 2), (2, 0)):
        plan = SimpleNamespace(name="app", index=1, cache_hits=hits, cache_misses=misses)
        progress.stage_finished(plan, 1.5)  # type: ignore[arg-type]

    assert stream.getvalue().splitlines() == [
        "[stage app] done in 1.50s (1 hit, 1 miss)",
        "[stage app] done in 1.50s (0 hits, 2 misses)",
        "[stage app] done in 1.50s (2 hits, 0 misses)",
    ]


def test_quiet_help_names_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["build", "--help"])

    help_text = " ".join(capsys.readouterr().out.split())
    assert "print no progress lines (they are printed only when stderr is a terminal and CI is unset)" in help_text
