"""What a build does after a stage and after the last stage, and how its spans record it."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from cachelab.build.builder import build
from cachelab.build.request import BuildRequest
from cachelab.build.rootfs import BuildWorkspace
from cachelab.events import ListSink, SpanRecorded
from tests.fixtures.builder import build_text

# Stage 0 is read only through its saved files, so its root is wiped after it.
SOURCE_STAGE = """\
FROM busybox AS source
RUN mkdir -p /out && echo one > /out/one && echo two > /out/two
FROM busybox
COPY --from=source /out /copied
RUN cat /copied/one
"""

# One stage, no context COPY: per-stage caching and lookahead have the same work to do.
ONE_STAGE = """\
FROM busybox
ENV GREETING=hello
RUN echo "$GREETING" > /greeting
WORKDIR /work
RUN cp /greeting here
CMD ["sh"]
"""


def _spans(events: list[Any]) -> list[SpanRecorded]:
    return [event for event in events if isinstance(event, SpanRecorded)]


def _stage_span(spans: list[SpanRecorded], index: int) -> SpanRecorded:
    return next(span for span in spans if span.phase == "stage" and span.stage_index == index)


def test_wipe_stage_moves_root_to_trash(tmp_path: Path) -> None:
    workspace = BuildWorkspace.create(tmp_path, keep=True)
    root = workspace.stage_root(3)
    (root / "locked").mkdir()
    (root / "locked" / "file").write_text("x")
    os.chmod(root / "locked", 0o500)  # as a RUN step may leave it

    workspace.wipe_stage(3)

    assert not root.exists()
    assert (workspace.base / "trash" / "3" / "locked" / "file").read_text() == "x"

    workspace.keep = False
    workspace.cleanup()
    assert not workspace.base.exists()


def test_wipe_stage_missing_root(tmp_path: Path) -> None:
    with BuildWorkspace.create(tmp_path) as workspace:
        workspace.wipe_stage(7)

        assert not (workspace.base / "trash").exists()


def test_wiped_root_has_span(tmp_path: Path, image_store: Path) -> None:
    _, events = build_text(tmp_path, image_store, SOURCE_STAGE, strategy="no-cache")

    spans = _spans(events)
    stage = _stage_span(spans, 0)
    wipes = [span for span in spans if span.phase == "wipe-root"]
    assert len(wipes) == 1
    wipe = wipes[0]
    assert wipe.parent_id == stage.span_id
    assert wipe.attributes["root_stage_index"] == "0"
    save = next(span for span in spans if span.phase == "save-files" and span.parent_id == stage.span_id)
    assert wipe.start_s >= save.end_s
    # The final stage's root is not wiped: kaniko returns its image instead.
    assert not any(span.parent_id == _stage_span(spans, 1).span_id for span in wipes)


def test_work_dir_removed_after_timing(tmp_path: Path, image_store: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "Dockerfile").write_text(SOURCE_STAGE)
    (tmp_path / "context").mkdir()
    present_at_build_end: list[list[str]] = []

    class WatchingSink(ListSink):
        def emit(self, event: Any) -> None:
            if isinstance(event, SpanRecorded) and event.phase == "build":
                present_at_build_end.append(sorted(os.listdir(work)))
            super().emit(event)

    request = BuildRequest(
        tmp_path / "Dockerfile", tmp_path / "context", strategy="no-cache", image_store=str(image_store),
        work_dir=work,
    )
    build(request, sink=WatchingSink(), progress=False)

    # The build span closed while the work directory, with stage 0's root set
    # aside in trash/, was still there; it is deleted only afterwards.
    assert len(present_at_build_end) == 1
    assert len(present_at_build_end[0]) == 1
    assert present_at_build_end[0][0].startswith("cachelab-build-")
    assert os.listdir(work) == []


def test_one_stage_warm_same_work(tmp_path: Path, image_store: Path) -> None:
    phases: dict[str, Counter[str]] = {}
    byte_totals: dict[str, Counter[str]] = {}
    for strategy in ("per-stage", "lookahead"):
        directory = tmp_path / strategy
        directory.mkdir()
        build_text(directory, image_store, ONE_STAGE, strategy=strategy)
        _, events = build_text(directory, image_store, ONE_STAGE, strategy=strategy)
        spans = _spans(events)
        phases[strategy] = Counter(span.phase for span in spans)
        byte_totals[strategy] = Counter()
        for span in spans:
            byte_totals[strategy][span.phase] += span.bytes or 0

    # The warm rebuild of one stage probes the same keys and runs the same
    # metadata steps under both strategies: no strategy does work the other
    # does not record.
    assert phases["per-stage"] == phases["lookahead"]
    assert byte_totals["per-stage"] == byte_totals["lookahead"]
    assert phases["per-stage"]["probe-cache"] == 3
    assert phases["per-stage"]["unpack"] == 0
    assert phases["per-stage"]["execute"] > 0
