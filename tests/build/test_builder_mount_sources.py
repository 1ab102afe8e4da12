"""A stage that only a RUN --mount from= reads is neither built nor fetched, as in kaniko."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.events import SpanRecorded, StageRecorded
from tests.fixtures.builder import build_text

pytestmark = pytest.mark.sandbox

MOUNT_ONLY = """\
FROM busybox AS tools
RUN echo tool > /tool
FROM busybox
RUN --mount=type=bind,from=tools,source=/tool,target=/t test ! -e /t
"""


@pytest.mark.parametrize("strategy", ["per-stage", "lookahead"])
def test_mount_source_stage_not_built(tmp_path: Path, image_store: Path, strategy: str) -> None:
    result, events = build_text(tmp_path, image_store, MOUNT_ONLY, strategy=strategy)

    stages = {event.stage_index: event for event in events if isinstance(event, StageRecorded)}
    assert stages[0].action == "unused"
    assert stages[1].action == "built"
    spans_of_tools = [event for event in events if isinstance(event, SpanRecorded) and event.stage_index == 0]
    assert spans_of_tools == []
    assert result.image_digest.startswith("sha256:")
