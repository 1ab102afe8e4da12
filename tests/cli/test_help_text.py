"""Help text of `cache` and `store`."""

from __future__ import annotations

import pytest

from cachelab.cli import main


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    # argparse wraps to the terminal width, so compare with the line breaks removed.
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(("command", "description"), [
    ("cache", "List the entries of a kaniko layer cache (`ls`) or delete the old ones (`prune`)."),
    ("store", "Check the blobs and references of an OCI image layout store"),
])
def test_group_help_has_description(command: str, description: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert description in _help([command], capsys)


@pytest.mark.parametrize("argv", [["cache", "prune"], ["store", "gc"]])
def test_keep_newer_than_help_takes_duration(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(argv, capsys)

    assert "--keep-newer-than DURATION" in text
    assert "plain seconds (300) or a duration (5m) (default: 300 seconds)" in text
