"""Timeline figures of a comparison, one PNG per strategy.

Figures are made with `matplotlib.figure.Figure`, which renders PNG through the
Agg canvas without pyplot, so saving never changes the caller's backend.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from matplotlib.figure import Figure

from cachelab.plots import timeline
from cachelab.record import Recording
from cachelab.study.summary import last_step

logger = logging.getLogger(__name__)

# Inches per stage row of a timeline, plus room for the axis and legend.
ROW_HEIGHT = 0.6
MIN_HEIGHT = 2.5
WIDTH = 10.0


def save_timelines(recording: Recording, out_dir: Path, *, step: int | None = None) -> list[Path]:
    """Save a timeline of each strategy's build at `step` (default: the last step).

    A strategy with several repeats is drawn from its last repeat. Returns the
    paths of the files, `timeline-<strategy>.png` in `out_dir`.
    """
    builds = recording.builds
    chosen = last_step(builds) if step is None else step
    selected = builds[builds["step"] == chosen].sort_values("repeat")
    paths = []
    for strategy, group in selected.groupby("strategy", sort=False):
        build_id = str(group["build_id"].iloc[-1])
        if not (recording.spans["build_id"] == build_id).any():
            logger.warning("build %s of strategy %s has no spans, so no timeline", build_id, strategy)
            continue
        path = out_dir / f"timeline-{_slug(str(strategy))}.png"
        scenario = group["scenario"].iloc[-1]
        title = f"{group['dockerfile_id'].iloc[-1]}: {strategy}, {scenario} step {chosen}"
        _save_timeline(recording, build_id, title, path)
        paths.append(path)
    return paths


def _save_timeline(recording: Recording, build_id: str, title: str, path: Path) -> None:
    stage_count = int((recording.stages["build_id"] == build_id).sum())
    figure = Figure(figsize=(WIDTH, max(MIN_HEIGHT, ROW_HEIGHT * (stage_count + 2))))
    ax = figure.subplots()
    spans = recording.spans[recording.spans["build_id"] == build_id]
    timeline(spans, build_id=build_id, stages=recording.stages, ax=ax)
    ax.set_title(title)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    logger.info("saved timeline of build %s to %s", build_id, path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "strategy"
