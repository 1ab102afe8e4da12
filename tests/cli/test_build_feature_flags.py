"""`cachelab build` applies FF_KANIKO_* environment variables as `cachelab plan` does."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cachelab.cli import main
from tests.fixtures.builder import write_example

DOCKERFILE = """\
FROM busybox AS a
RUN echo a > /a
FROM busybox
COPY --from=a /a /a
RUN cat /a
"""


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return write_example(tmp_path / "example", DOCKERFILE)


def dry_run(
    example: Path, image_store: Path, cache: Path, capsys: pytest.CaptureFixture[str], *extra: str,
) -> list[str]:
    argv = ["build", str(example), "--dry-run", "--cache-repo", str(cache), "--image-store", str(image_store), *extra]
    assert main(argv) == 0
    return capsys.readouterr().out.splitlines()


def kaniko_cache_keys(lines: list[str]) -> list[str]:
    """Return the keys of kaniko's `CACHE HIT` and `CACHE MISS` lines."""
    return [line.split(": ", 1)[1] for line in lines if line.startswith(("  CACHE HIT: ", "  CACHE MISS: "))]


def test_dry_run_without_lookahead_flag(
    example: Path, image_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with_lookahead = dry_run(example, image_store, tmp_path / "cache", capsys)
    monkeypatch.setenv("FF_KANIKO_CACHE_LOOKAHEAD", "0")
    without_lookahead = dry_run(example, image_store, tmp_path / "cache", capsys, "--strategy", "per-stage")

    assert kaniko_cache_keys(with_lookahead)
    assert kaniko_cache_keys(without_lookahead) == []
    assert "# FF_KANIKO_CACHE_LOOKAHEAD, which these options leave off." in without_lookahead


@pytest.mark.parametrize(("value", "strategy"), [("0", "lookahead"), ("0", "graph"), ("1", "per-stage")])
def test_lookahead_flag_contradicting_strategy(
    example: Path, image_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], value: str, strategy: str,
) -> None:
    monkeypatch.setenv("FF_KANIKO_CACHE_LOOKAHEAD", value)
    argv = ["build", str(example), "--strategy", strategy, "--record", str(tmp_path / "record"),
            "--cache-repo", str(tmp_path / "cache"), "--image-store", str(image_store)]

    assert main(argv) != 0
    error = capsys.readouterr().err
    assert f"contradicts strategy {strategy!r}" in error
    assert "FF_KANIKO_CACHE_LOOKAHEAD" in error
    assert not (tmp_path / "record").exists()
    assert not (tmp_path / "cache").exists()


def test_build_records_flags_it_ran_with(
    example: Path, image_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rolling_keys = kaniko_cache_keys(dry_run(example, image_store, tmp_path / "cache", capsys))
    monkeypatch.setenv("FF_KANIKO_ROLLING_CACHE_KEY", "0")
    planned_keys = kaniko_cache_keys(dry_run(example, image_store, tmp_path / "cache", capsys))
    record = tmp_path / "record"

    code = main([
        "build", str(example), "--cache-repo", str(tmp_path / "cache"), "--image-store", str(image_store),
        "--record", str(record), "--quiet",
    ])

    assert code == 0
    flags = pd.read_parquet(record / "builds.parquet")["flags"][0].splitlines()
    assert "FF_KANIKO_ROLLING_CACHE_KEY=false" in flags
    assert "FF_KANIKO_CACHE_LOOKAHEAD=true" in flags
    built_keys = pd.read_parquet(record / "instructions.parquet")["cache_key"].dropna().tolist()
    assert planned_keys != rolling_keys
    assert built_keys[: len(planned_keys)] == planned_keys


def test_no_cache_ignores_lookahead_flag(
    example: Path, image_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Without the cache the lookahead flag has nothing to act on, so a no-cache baseline still runs.
    monkeypatch.setenv("FF_KANIKO_CACHE_LOOKAHEAD", "1")

    lines = dry_run(example, image_store, tmp_path / "cache", capsys, "--strategy", "no-cache")

    assert kaniko_cache_keys(lines) == []
