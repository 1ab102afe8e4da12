"""`cachelab plan` text and `cachelab build --dry-run` show cache decisions for every profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from tests.fixtures.paths import REPO_ROOT, TESTS_DIR

FROM_CHAIN = REPO_ROOT / "datasets" / "examples" / "from-chain"
DATA = TESTS_DIR / "keys" / "data"
BASE = f"busybox={DATA / 'busybox-manifest.json'},{DATA / 'busybox-config.json'}"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def decisions_of_text(text: str) -> list[tuple[str, str, str]]:
    """Return (decision, 12-digit key, instruction) of each `#` instruction line."""
    rows = []
    for line in text.splitlines():
        if line.startswith("#   "):
            decision, key, instruction = line[4:].split(None, 2)
            rows.append((decision, key[:12], instruction))
    return rows


def decisions_of_table(text: str) -> list[tuple[str, str, str]]:
    """Return (decision, key, instruction) of each row of `--format table` (stage, instruction, key, ...)."""
    rows = []
    for line in text.splitlines()[1:]:
        words = line.split()
        rows.append((words[-2], words[-4], " ".join(words[1:-4])))
    return rows


@pytest.mark.parametrize("profile", ["kaniko-copy", "kaniko"])
def test_plan_text_shows_decisions(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["plan", str(FROM_CHAIN), "--profile", profile, "--base", BASE, "--cache", "mem"]

    text = run(common, capsys)
    table = run([*common, "--format", "table"], capsys)

    text_rows = decisions_of_text(text)
    assert text_rows
    assert [(decision, key) for decision, key, _ in text_rows] == [
        (decision, key) for decision, key, _ in decisions_of_table(table)
    ]
    assert text_rows[0][0] == "miss"
    assert text_rows[0][2] == "RUN mkdir -p /opt/app && echo os > /opt/app/layer-os"
    assert "# Not kaniko output: kaniko prints CACHE lines only with --cache and" in text


def test_plan_text_lookahead_has_no_extra_lines(capsys: pytest.CaptureFixture[str]) -> None:
    text = run(["plan", str(FROM_CHAIN), "--base", BASE, "--cache", "mem"], capsys)

    assert "  CACHE MISS: " in text
    assert not any(line.startswith("#") for line in text.splitlines())


def test_plan_help_explains_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--help"])

    help_text = " ".join(capsys.readouterr().out.split())
    assert "lines starting with `#`, which are not kaniko output" in help_text
    assert "not-probed" in help_text


def test_build_dry_run_per_stage_shows_decisions(
    image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    cache = tmp_path / "cache"

    text = run([
        "build", str(FROM_CHAIN), "--strategy", "per-stage", "--dry-run",
        "--image-store", str(image_store), "--cache-repo", str(cache),
    ], capsys)

    text_rows = decisions_of_text(text)
    assert text.startswith("FROM busybox\n")
    assert [decision for decision, _, _ in text_rows] == ["miss"] + ["not-probed"] * 5
    assert "# stage 0 os: squashed into stage 2" in text
    assert not cache.exists()
