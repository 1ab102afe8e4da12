"""`timeline`: one row per stage, the build's spans drawn as bars coloured by phase."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from cachelab.plots._inputs import (
    axes_or_current,
    require_columns,
    require_frame,
    select_build,
)
from cachelab.plots.colors import ACTION_COLORS, FALLBACK_COLOR, PHASE_COLORS

SPAN_COLUMNS = ("build_id", "span_id", "parent_id", "phase", "stage_index", "start_s", "end_s")
STAGE_COLUMNS = ("build_id", "stage_index", "stage_name", "action")
BUILD_ROW_LABEL = "build"
BAR_HEIGHT = 0.8


def timeline(
    data: pd.DataFrame,
    *,
    build_id: str | None = None,
    stages: pd.DataFrame | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the spans of one build on a time axis, one row per stage.

    Parameters
    ----------
    data
        The spans table. Only spans of the phases in `PHASE_COLORS` are drawn.
        Container spans (build, stage, instruction), finer phases and spans inside
        a span of the same phase are left out.
    build_id
        The build to draw, which may be omitted when `data` contains one build.
    stages
        The stages table, optional. With it every stage gets a row labelled with its
        name, and stages that were not built (eliminated, squashed, unused) are
        drawn as hatched outlines across the row.
    ax
        Axes to draw on, the current Axes by default.

    Returns
    -------
    The Axes. Spans without a stage (such as push-image) are on a last row named
    "build".
    """
    data = require_frame("timeline", "data", data)
    require_columns("timeline", "data", data, SPAN_COLUMNS)
    build_id = select_build("timeline", data, build_id)
    spans = data[data["build_id"] == build_id]
    stage_rows = _stage_rows(spans, stages, build_id)
    ax = axes_or_current(ax)

    drawn = _drawn_spans(spans)
    rows = {index: position for position, index in enumerate(stage_rows.index)}
    build_row = len(rows)
    end = float(spans["end_s"].max()) if len(spans) else 1.0
    _draw_spans(ax, drawn, rows, build_row)
    _draw_skipped_stages(ax, stage_rows, rows, end)

    labels = [_row_label(index, row) for index, row in stage_rows.iterrows()]
    has_build_row = drawn["stage_index"].isna().any()
    positions = list(range(len(labels) + (1 if has_build_row else 0)))
    if has_build_row:
        labels.append(BUILD_ROW_LABEL)
    ax.set_yticks(positions, labels=labels)
    ax.set_ylim(len(positions) - 0.5, -0.5)
    ax.set_xlim(0.0, end * 1.02 if end > 0 else 1.0)
    ax.set_xlabel("seconds since build start")
    ax.set_title(f"build {build_id}")
    _add_legend(ax)
    return ax


def _stage_rows(spans: pd.DataFrame, stages: pd.DataFrame | None, build_id: str) -> pd.DataFrame:
    """Return stage_name and action by stage index, for every stage with a row."""
    span_indices = {int(i) for i in spans["stage_index"].dropna().unique()}
    if stages is None:
        return pd.DataFrame({"stage_name": pd.NA, "action": "built"}, index=sorted(span_indices))

    stages = require_frame("timeline", "stages", stages)
    require_columns("timeline", "stages", stages, STAGE_COLUMNS)
    own = stages[stages["build_id"] == build_id].copy()
    own["stage_index"] = own["stage_index"].astype(int)
    rows = own.set_index("stage_index")[["stage_name", "action"]]

    # A stage with spans but no row in `stages` still gets its own row.
    unlisted = sorted(span_indices - set(rows.index))
    if unlisted:
        extra = pd.DataFrame({"stage_name": pd.NA, "action": "built"}, index=unlisted)
        rows = pd.concat([rows, extra.astype(rows.dtypes.to_dict())])
    return rows.sort_index()


def _drawn_spans(spans: pd.DataFrame) -> pd.DataFrame:
    phases = dict(zip(spans["span_id"], spans["phase"]))
    parents = dict(zip(spans["span_id"], spans["parent_id"]))

    def nested_in_same_phase(span_id: str) -> bool:
        phase = phases[span_id]
        parent = parents.get(span_id)
        seen = {span_id}
        while isinstance(parent, str) and parent not in seen:
            if phases.get(parent) == phase:
                return True
            seen.add(parent)
            parent = parents.get(parent)
        return False

    drawable = spans[spans["phase"].isin(list(PHASE_COLORS))]
    keep = [not nested_in_same_phase(span_id) for span_id in drawable["span_id"]]
    return drawable[keep]


def _draw_spans(ax: Axes, spans: pd.DataFrame, rows: dict[int, int], build_row: int) -> None:
    # One barh call per phase, so the legend has one entry per phase.
    for phase, color in PHASE_COLORS.items():
        selected = spans[spans["phase"] == phase]
        if selected.empty:
            continue
        positions = [
            build_row if pd.isna(index) else rows.get(int(index), build_row)
            for index in selected["stage_index"]
        ]
        starts = selected["start_s"].astype(float).to_numpy()
        widths = (selected["end_s"] - selected["start_s"]).astype(float).to_numpy()
        bars = ax.barh(
            positions, widths, left=starts, height=BAR_HEIGHT, color=color, label=phase
        )
        for bar, span_id in zip(bars, selected["span_id"]):
            bar.set_gid(f"span:{span_id}")


def _draw_skipped_stages(
    ax: Axes, stage_rows: pd.DataFrame, rows: dict[int, int], end: float
) -> None:
    for action in ("eliminated", "squashed", "unused"):
        skipped = stage_rows[stage_rows["action"] == action]
        if skipped.empty:
            continue
        positions = [rows[int(index)] for index in skipped.index]
        bars = ax.barh(
            positions,
            [end] * len(positions),
            left=0.0,
            height=BAR_HEIGHT,
            facecolor="none",
            edgecolor=ACTION_COLORS.get(action, FALLBACK_COLOR),
            hatch="//",
            label=action,
        )
        for bar, index in zip(bars, skipped.index):
            bar.set_gid(f"{action}:{index}")


def _row_label(index: int, row: pd.Series) -> str:
    name = row["stage_name"]
    label = f"{index}" if pd.isna(name) else f"{index} {name}"
    if row["action"] != "built":
        label += f" ({row['action']})"
    return label


def _add_legend(ax: Axes) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        # Outside the plot area, so no span is hidden behind the legend.
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
