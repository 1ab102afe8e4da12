"""`build --help` states when `--dry-run` prints cachelab's `#` decision lines."""

from __future__ import annotations

import pytest

from cachelab.cli import main


def test_dry_run_help_names_lookahead(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["build", "--help"])
    # argparse wraps to the terminal width, so compare with the line breaks removed.
    text = " ".join(capsys.readouterr().out.split())

    assert exited.value.code == 0
    assert "With the kaniko-lookahead profile (the default, from --strategy lookahead) the plan has " \
        "kaniko's own CACHE lines; other profiles add cachelab's decision" in text
