"""`stage_graph`: stages as boxes in dependency order, with FROM and COPY --from edges.

Drawn with matplotlib patches only. A stage's column is its depth: the length of
the longest edge path that reaches it from a stage without incoming edges.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from cachelab.plots._inputs import (
    axes_or_current,
    require_columns,
    require_frame,
    select_build,
)
from cachelab.plots.colors import ACTION_COLORS, FALLBACK_COLOR
from cachelab.plots.errors import PlotInputError

EDGE_STYLES: dict[str, Literal["solid", "dashed"]] = {"from": "solid", "copy-from": "dashed"}
EDGE_LABELS = {"from": "FROM", "copy-from": "COPY --from"}
BOX_WIDTH = 0.6
BOX_HEIGHT = 0.5


def stage_graph(
    data: pd.DataFrame,
    *,
    edges: pd.DataFrame,
    build_id: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the stages of one build as boxes coloured by action, joined by their edges.

    Parameters
    ----------
    data
        The stages table. Its `action` sets each box's colour (see `ACTION_COLORS`).
    edges
        One row per dependency with columns `source` and `target` (stage indices)
        and `kind`: `from` for `FROM <stage>`, `copy-from` for `COPY --from`.
        FROM edges are solid arrows, COPY --from edges dashed ones.
    build_id
        The build to draw, which may be omitted when `data` contains one build.
    ax
        Axes to draw on, the current Axes by default.
    """
    data = require_frame("stage_graph", "data", data)
    require_columns("stage_graph", "data", data, ("build_id", "stage_index", "stage_name", "action"))
    edges = require_frame("stage_graph", "edges", edges)
    require_columns("stage_graph", "edges", edges, ("source", "target", "kind"))
    build_id = select_build("stage_graph", data, build_id)
    stages = data[data["build_id"] == build_id].set_index("stage_index").sort_index()
    indices = [int(index) for index in stages.index]
    pairs = _edge_list(edges, set(indices))
    positions = _layout(indices, pairs)
    ax = axes_or_current(ax)

    for index, stage in stages.iterrows():
        _draw_box(ax, int(index), stage, positions[int(index)])
    for source, target, kind in pairs:
        _draw_edge(ax, source, target, kind, positions)

    _finish_axes(ax, positions, set(stages["action"].dropna()), {kind for *_, kind in pairs})
    ax.set_title(f"stages of build {build_id}")
    return ax


def _edge_list(edges: pd.DataFrame, known: set[int]) -> list[tuple[int, int, str]]:
    pairs = []
    for source, target, kind in zip(edges["source"], edges["target"], edges["kind"]):
        if kind not in EDGE_STYLES:
            raise PlotInputError(
                f"stage_graph: `edges` has kind {kind!r}, expected one of "
                f"{', '.join(EDGE_STYLES)}",
                hint="Use 'from' for FROM <stage> and 'copy-from' for COPY --from.",
            )
        for end in (source, target):
            if int(end) not in known:
                raise PlotInputError(
                    f"stage_graph: `edges` names stage {end}, which is not in `data`",
                    hint="Pass the edges of the same build as the stages table.",
                )
        pairs.append((int(source), int(target), str(kind)))
    return pairs


def _layout(
    indices: list[int], pairs: list[tuple[int, int, str]]
) -> dict[int, tuple[float, float]]:
    incoming: dict[int, set[int]] = {index: set() for index in indices}
    for source, target, _ in pairs:
        incoming[target].add(source)

    # Longest-path depth by repeated relaxation. Needing more rounds than stages means a cycle.
    depth = {index: 0 for index in indices}
    for _ in range(len(indices) + 1):
        changed = False
        for target, sources in incoming.items():
            for source in sources:
                if depth[source] + 1 > depth[target]:
                    depth[target] = depth[source] + 1
                    changed = True
        if not changed:
            break
    else:
        raise PlotInputError(
            "stage_graph: `edges` contain a cycle",
            hint="Stage dependencies must form a directed acyclic graph.",
        )

    positions = {}
    rows: dict[int, int] = {}
    for index in indices:
        column = depth[index]
        row = rows.get(column, 0)
        rows[column] = row + 1
        positions[index] = (float(column), float(-row))
    return positions


def _draw_box(ax: Axes, index: int, stage: pd.Series, center: tuple[float, float]) -> None:
    action = stage["action"]
    color = ACTION_COLORS.get(action, FALLBACK_COLOR) if not pd.isna(action) else FALLBACK_COLOR
    box = FancyBboxPatch(
        (center[0] - BOX_WIDTH / 2, center[1] - BOX_HEIGHT / 2),
        BOX_WIDTH,
        BOX_HEIGHT,
        boxstyle="round,pad=0.02",
        facecolor=color,
        edgecolor="black",
        alpha=0.85,
        gid=f"stage:{index}",
    )
    ax.add_patch(box)
    name = "" if pd.isna(stage["stage_name"]) else f" {stage['stage_name']}"
    ax.text(center[0], center[1], f"{index}{name}\n{action}", ha="center", va="center",
            fontsize="small")


def _draw_edge(
    ax: Axes,
    source: int,
    target: int,
    kind: str,
    positions: dict[int, tuple[float, float]],
) -> None:
    (x0, y0), (x1, y1) = positions[source], positions[target]
    arrow = FancyArrowPatch(
        (x0 + BOX_WIDTH / 2, y0),
        (x1 - BOX_WIDTH / 2, y1),
        arrowstyle="-|>",
        mutation_scale=12,
        linestyle=EDGE_STYLES[kind],
        color="black",
        gid=f"edge:{kind}:{source}->{target}",
    )
    ax.add_patch(arrow)


def _finish_axes(
    ax: Axes,
    positions: dict[int, tuple[float, float]],
    actions: set[str],
    kinds: set[str],
) -> None:
    xs = [x for x, _ in positions.values()] or [0.0]
    ys = [y for _, y in positions.values()] or [0.0]
    ax.set_xlim(min(xs) - BOX_WIDTH, max(xs) + BOX_WIDTH)
    ax.set_ylim(min(ys) - BOX_HEIGHT * 1.5, max(ys) + BOX_HEIGHT * 1.5)
    ax.set_axis_off()

    handles: list[Patch | Line2D] = [
        Patch(facecolor=ACTION_COLORS[action], edgecolor="black", label=action)
        for action in ACTION_COLORS
        if action in actions
    ]
    handles += [
        Line2D([], [], color="black", linestyle=EDGE_STYLES[kind], label=EDGE_LABELS[kind])
        for kind in EDGE_STYLES
        if kind in kinds
    ]
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize="small")
