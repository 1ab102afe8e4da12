"""`savings_hist`: how much wall time a strategy saves over a baseline, per Dockerfile."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

import cachelab.record  # noqa: F401  (registers the df.cachelab accessor)
from cachelab.plots._inputs import axes_or_current, require_columns, require_frame
from cachelab.plots.colors import strategy_colors


def savings_hist(
    data: pd.DataFrame,
    *,
    baseline: str = "no-cache",
    strategy: str = "lookahead",
    by: Sequence[str] = ("dockerfile_id", "scenario"),
    bins: int | Sequence[float] = 10,
    ax: Axes | None = None,
) -> Axes:
    """Draw a histogram of the share of wall time `strategy` saves over `baseline`.

    Each group of `by` contributes one value, `1 - median(strategy) / median(baseline)`
    over its successful builds, drawn in percent. Negative values mean the strategy
    was slower. A dashed vertical line marks the median saving. Groups whose ratio
    is not finite (a baseline median of zero) are left out, and the legend counts them.
    """
    data = require_frame("savings_hist", "data", data)
    require_columns("savings_hist", "data", data, ("build_id", "strategy", "outcome", "wall_s", *by))
    ratios = data.cachelab.wall_ratio(baseline, strategy, by=by)
    savings = (1.0 - ratios["ratio"].astype(float).to_numpy()) * 100.0
    finite = np.isfinite(savings)
    dropped = int((~finite).sum())
    savings = savings[finite]
    ax = axes_or_current(ax)

    color = strategy_colors([strategy])[strategy]
    label = f"{len(savings)} groups"
    if dropped:
        label += f" ({dropped} without a finite ratio dropped)"
    ax.hist(savings, bins=bins, color=color, edgecolor="white", label=label)
    if len(savings):
        median = float(np.median(savings))
        ax.axvline(median, color="black", linestyle="dashed", label=f"median {median:.1f}%")
    ax.set_xlabel(f"wall time saved by {strategy} over {baseline} (%)")
    ax.set_ylabel("groups (" + ", ".join(by) + ")")
    ax.legend(fontsize="small")
    return ax
