"""`study --mode replay --sample N` warns only about the files it samples."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import cachelab.cli.study as study_cli
from cachelab.cli import main

# Two multistage files whose FROM lines warn that kaniko leaves TARGETOS unset.
WARNING_FILE = "FROM busybox AS base-linux\nRUN true\nFROM base-${TARGETOS}\nRUN true\n"


def test_replay_warns_for_sampled_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("one", "two"):
        folder = tmp_path / "corpus" / name
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text(WARNING_FILE)

    def stop(*args: object, **kwargs: object) -> None:
        # The warnings of interest come before the twins are built.
        raise KeyboardInterrupt

    monkeypatch.setattr(study_cli, "_replay", stop)
    caplog.set_level(logging.WARNING, logger="cachelab.dockerfile")

    main(["study", str(tmp_path / "corpus"), "--mode", "replay", "--sample", "1", "--out", str(tmp_path / "out")])

    capsys.readouterr()
    named = {
        name for name in ("one", "two")
        for record in caplog.records if record.getMessage().startswith(f"{name}/Dockerfile:")
    }
    assert len(named) == 1
