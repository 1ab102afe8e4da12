"""Fixtures of the explorer tests: real builds need bubblewrap and Debian's busybox-static."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cachelab.oci.busybox import DEFAULT_BUSYBOX
from cachelab.widgets import Explorer

ARG_EXAMPLE = """\
FROM busybox AS base
ARG VERSION=0
RUN echo "$VERSION" > /version

FROM busybox
COPY --from=base /version /version
COPY app.txt /app.txt
"""


@pytest.fixture
def explorer(tmp_path: Path) -> Iterator[Explorer]:
    """An explorer over datasets/examples whose sessions live under `tmp_path`."""
    if not shutil.which("bwrap"):
        pytest.skip("RUN needs bubblewrap (Debian: apt-get install bubblewrap)")
    if not Path(DEFAULT_BUSYBOX).is_file():
        pytest.skip(f"needs Debian's busybox-static at {DEFAULT_BUSYBOX}")
    with Explorer(work_dir=tmp_path) as opened:
        yield opened


@pytest.fixture
def arg_examples(tmp_path: Path) -> Path:
    """A directory with one example, `with-arg`, whose first stage declares ARG VERSION."""
    example = tmp_path / "examples" / "with-arg"
    (example / "context").mkdir(parents=True)
    (example / "Dockerfile").write_text(ARG_EXAMPLE)
    (example / "context" / "app.txt").write_text("app\n")
    return example.parent
