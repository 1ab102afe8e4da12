"""The spans of replayed twins: what each strategy's warm rebuild records."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from cachelab.events import BuildStarted, SpanRecorded
from cachelab.model.catalog import BaseImageCatalog
from cachelab.oci.busybox import DEFAULT_BUSYBOX
from cachelab.replay import Replayer, ReplaySettings

MB = 1_000_000
CATALOG = BaseImageCatalog.from_document({"default_compressed_bytes": 10 * MB, "images": []})

# The shape of docker/cli's Dockerfile.vendor: the target's chain is one stage
# after squashing, and both strategies build it from the same cache hits.
ONE_BUILT_STAGE = """\
FROM golang:1.22 AS base
ENV GOTOOLCHAIN=local
RUN apk add --no-cache git
WORKDIR /src

FROM base AS vendored
RUN ./vendor.sh

FROM base AS outdated
RUN ./outdated.sh
"""

needs_sandbox = pytest.mark.skipif(
    shutil.which("bwrap") is None or not os.path.isfile(DEFAULT_BUSYBOX),
    reason="needs bubblewrap and Debian's busybox-static",
)


@needs_sandbox
@pytest.mark.sandbox
def test_one_stage_twin_same_spans(tmp_path: Path) -> None:
    work = tmp_path / "work"
    with Replayer(ReplaySettings(work_dir=work, scale=1000, catalog=CATALOG, keep_twins=True)) as replayer:
        result = replayer.replay("one-built-stage", ONE_BUILT_STAGE)
    assert result.errors == []

    strategy_of = {
        event.build_id: str(event.strategy)
        for event in result.events
        if isinstance(event, BuildStarted) and event.step == 1
    }
    phases: dict[str, Counter[str]] = {strategy: Counter() for strategy in strategy_of.values()}
    for event in result.events:
        if isinstance(event, SpanRecorded) and event.build_id in strategy_of:
            phases[strategy_of[event.build_id]][event.phase] += 1

    assert set(phases) == {"per-stage", "lookahead"}
    assert phases["per-stage"]["stage"] == 1
    assert phases["per-stage"] == phases["lookahead"]
    # Each build made its work directory beside the kept twin and deleted it.
    twins = list(work.glob("*/twin"))
    assert len(twins) == 1
    assert list(twins[0].parent.glob("cachelab-build-*")) == []
