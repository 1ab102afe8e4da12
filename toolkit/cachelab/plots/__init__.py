"""Figures from the record tables, as seaborn-style axes-level functions.

Each function takes a table as `data`, column names and options as keywords and
`ax=None` (the current Axes by default), draws on that Axes and returns it.
Input errors are `PlotInputError` and name the parameter and the missing column.
"""

from __future__ import annotations

from cachelab.plots.colors import (
    ACTION_COLORS,
    DECISION_COLORS,
    PHASE_COLORS,
    PHASE_COLUMN_COLORS,
    STRATEGY_COLORS,
    strategy_colors,
)
from cachelab.plots.errors import PlotInputError
from cachelab.plots.labels import axis_label
from cachelab.plots.savings import savings_hist
from cachelab.plots.stage_bars import stage_bars
from cachelab.plots.stage_graph import stage_graph
from cachelab.plots.timeline import timeline
from cachelab.plots.timing import timing_box

__all__ = [
    "ACTION_COLORS",
    "DECISION_COLORS",
    "PHASE_COLORS",
    "PHASE_COLUMN_COLORS",
    "STRATEGY_COLORS",
    "PlotInputError",
    "axis_label",
    "savings_hist",
    "stage_bars",
    "stage_graph",
    "strategy_colors",
    "timeline",
    "timing_box",
]
