"""A build without cache words a missing RUN bind mount source as the key engine does."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main


def test_no_cache_build_words_missing_mount(
    image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN --mount=type=bind,source=/etc,target=/x true\n")

    code = main(["build", str(dockerfile), "--context", str(context), "--quiet", "--strategy", "no-cache",
                 "--image-store", str(image_store)])

    lines = capsys.readouterr().err.splitlines()
    assert code == 1
    assert lines[0] == (
        f"cachelab: error: {dockerfile}:2: RUN --mount=type=bind,source=/etc,target=/x true: "
        f"RUN bind mount source '/etc' not found in {context}"
    )
    assert lines[1].startswith("cachelab: hint: Check the mount's source= path, which is relative to the build context")
