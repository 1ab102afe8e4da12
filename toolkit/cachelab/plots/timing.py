"""`timing_box`: box plots of repeated build timings, one box per group."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from cachelab.plots._inputs import axes_or_current, require_columns, require_frame
from cachelab.plots.colors import strategy_colors
from cachelab.plots.errors import PlotInputError
from cachelab.plots.labels import axis_label


def timing_box(
    data: pd.DataFrame,
    *,
    x: str = "strategy",
    y: str = "wall_s",
    order: list[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw one box per value of `x` over the `y` values of successful builds.

    Boxes span the quartiles, the line inside is the median, whiskers reach the
    furthest value within 1.5 IQR, and values beyond them are drawn as points
    (matplotlib's boxplot defaults). `order` sets the order of the boxes, sorted
    by default. Rows with `outcome` other than `ok`, or NA `y`, are left out. The
    y label names the unit (see `axis_label`).
    """
    data = require_frame("timing_box", "data", data)
    require_columns("timing_box", "data", data, (x, y))
    if "outcome" in data.columns:
        data = data[data["outcome"] == "ok"]
    data = data[data[y].notna()]
    levels = order if order is not None else sorted(map(str, data[x].dropna().unique()))
    if not levels:
        raise PlotInputError(
            f"timing_box: `data` has no successful rows with a `{y}` value",
            hint="Pass a builds table that contains successful builds.",
        )
    groups = [data[data[x] == level][y].astype(float).to_numpy() for level in levels]
    empty = [level for level, values in zip(levels, groups) if not len(values)]
    if empty:
        raise PlotInputError(
            f"timing_box: `order` names {empty[0]!r}, which has no rows in `data`",
            hint=f"Pass values that occur in the `{x}` column.",
        )
    ax = axes_or_current(ax)

    boxes = ax.boxplot(groups, tick_labels=levels, patch_artist=True)
    colors = strategy_colors(levels)
    for box, level in zip(boxes["boxes"], levels):
        box.set_facecolor(colors[level])
        box.set_gid(f"box:{level}")
    ax.set_xlabel(x)
    ax.set_ylabel(axis_label(y))
    return ax
