"""`stage_bars`: a per-stage measure side by side for each strategy."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from cachelab.plots._inputs import axes_or_current, require_columns, require_frame
from cachelab.plots.colors import strategy_colors
from cachelab.plots.errors import PlotInputError
from cachelab.plots.labels import axis_label

ESTIMATORS = ("median", "mean", "min", "max", "sum")
GROUP_WIDTH = 0.8


def stage_bars(
    data: pd.DataFrame,
    *,
    builds: pd.DataFrame | None = None,
    y: str = "wall_s",
    hue: str = "strategy",
    estimator: str = "median",
    order: list[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw one group of bars per stage and one bar per `hue` level within each group.

    Parameters
    ----------
    data
        The stages table, with a `hue` column or joined with `builds` to get one.
    builds
        The builds table. It is needed when `data` has no `hue` column, to join
        that column on `build_id`.
    y
        Stage column to draw, e.g. `wall_s` or `download_s`.
    hue
        Column whose levels get their own bar and colour, `strategy` by default.
    estimator
        How repeated builds are combined: one of median, mean, min, max, sum. A
        stage whose `y` is NA in every build is drawn as a bar of height 0.
    order
        Order of the `hue` levels, sorted by default.
    ax
        Axes to draw on, the current Axes by default.
    """
    data = require_frame("stage_bars", "data", data)
    require_columns("stage_bars", "data", data, ("build_id", "stage_index", y))
    if estimator not in ESTIMATORS:
        raise PlotInputError(
            f"stage_bars: `estimator` {estimator!r} is not one of {', '.join(ESTIMATORS)}",
            hint="Pass estimator='median' or another listed name.",
        )
    data = _with_hue(data, builds, hue)

    values = (
        data.assign(**{y: data[y].astype("Float64")})
        .groupby(["stage_index", hue])[y]
        .agg(estimator)
        .unstack(hue)
    )
    levels = order if order is not None else sorted(map(str, values.columns))
    stage_indices = [int(index) for index in values.index]
    colors = strategy_colors(levels)
    width = GROUP_WIDTH / max(len(levels), 1)
    x = np.arange(len(stage_indices), dtype=float)

    unknown = [level for level in levels if level not in values.columns]
    if unknown:
        raise PlotInputError(
            f"stage_bars: `order` names {unknown[0]!r}, which is not a value of `{hue}`",
            hint=f"Pass values that occur in the `{hue}` column.",
        )

    ax = axes_or_current(ax)
    for position, level in enumerate(levels):
        heights = values[level].astype(float).fillna(0.0).to_numpy()
        offset = (position - (len(levels) - 1) / 2) * width
        ax.bar(x + offset, heights, width=width, color=colors[level], label=level)

    ax.set_xticks(x, labels=_stage_labels(data, stage_indices))
    ax.set_xlabel("stage")
    ax.set_ylabel(f"{axis_label(y)}, {estimator} over builds")
    ax.legend(title=hue, fontsize="small")
    return ax


def _with_hue(data: pd.DataFrame, builds: pd.DataFrame | None, hue: str) -> pd.DataFrame:
    if hue in data.columns:
        return data
    if builds is None:
        raise PlotInputError(
            f"stage_bars: `data` has no column `{hue}`",
            hint=f"Pass `builds=` (the builds table) to join `{hue}` on build_id.",
        )
    builds = require_frame("stage_bars", "builds", builds)
    require_columns("stage_bars", "builds", builds, ("build_id", hue))
    return data.merge(builds[["build_id", hue]], on="build_id", how="left")


def _stage_labels(data: pd.DataFrame, stage_indices: list[int]) -> list[str]:
    names: dict[int, str] = {}
    if "stage_name" in data.columns:
        for index, name in zip(data["stage_index"], data["stage_name"]):
            if not pd.isna(name):
                names.setdefault(int(index), str(name))
    return [f"{i} {names[i]}" if i in names else str(i) for i in stage_indices]
