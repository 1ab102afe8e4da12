"""`plan` and `keys` name the Dockerfile in warnings about unhashed bind mounts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cachelab.cli import main

DOCKERFILE = """\
FROM busybox AS src
RUN echo hi > /x
FROM busybox
RUN --mount=type=bind,from=src,target=/m cat /m/x
"""


@pytest.mark.parametrize("command", ["plan", "keys"])
def test_warning_names_dockerfile(command: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "context").mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)

    with caplog.at_level(logging.WARNING, logger="cachelab.keys.parts"):
        main([command, str(dockerfile), "--context", str(tmp_path / "context")])

    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [f"{dockerfile}:4: bind mount from 'src' is not hashed (kaniko skips cross-stage bind mounts)"]
