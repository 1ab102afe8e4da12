"""Builder warnings and RUN output: where they are logged and which file and line they name."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.fixtures.builder import build_text

SKIPPED_BIND = "FROM busybox AS a\nRUN echo a > /a\nFROM busybox\nRUN --mount=type=bind,from=a,target=/m true\n"


def test_skipped_bind_mount_names_file(
    tmp_path: Path, image_store: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="cachelab.build.mounts"):
        build_text(tmp_path, image_store, SKIPPED_BIND, strategy="no-cache")

    warnings = [record.getMessage() for record in caplog.records if record.name == "cachelab.build.mounts"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{tmp_path / 'Dockerfile'}:4: RUN --mount=type=bind,from=a is skipped")


def test_run_output_logged_at_info(
    tmp_path: Path, image_store: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="cachelab.build.sandbox"):
        build_text(tmp_path, image_store, "FROM busybox\nRUN echo visible-output\n", strategy="no-cache")

    lines = [record for record in caplog.records if record.getMessage() == "| visible-output"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO
