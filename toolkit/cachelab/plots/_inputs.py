"""Checks of plotting inputs, with errors that name the function, parameter and column."""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

from cachelab.plots.errors import PlotInputError


def require_frame(function: str, parameter: str, value: object) -> pd.DataFrame:
    """Return `value` if it is a DataFrame, else raise `PlotInputError`."""
    if not isinstance(value, pd.DataFrame):
        raise PlotInputError(
            f"{function}: `{parameter}` must be a pandas DataFrame, not {type(value).__name__}",
            hint="Pass one of the tables of a cachelab Recording.",
        )
    return value


def require_columns(
    function: str, parameter: str, frame: pd.DataFrame, columns: Iterable[str]
) -> None:
    """Raise `PlotInputError` naming the first column of `columns` missing from `frame`."""
    for column in columns:
        if column not in frame.columns:
            raise PlotInputError(
                f"{function}: `{parameter}` has no column `{column}`",
                hint=f"Pass a table with a `{column}` column, e.g. from a cachelab Recording.",
            )


def select_build(function: str, frame: pd.DataFrame, build_id: str | None) -> str:
    """Return `build_id`, or the only build of `frame` when it is None."""
    builds = frame["build_id"].dropna().unique()
    if build_id is None:
        if len(builds) != 1:
            raise PlotInputError(
                f"{function}: `data` contains {len(builds)} builds, so pass `build_id=`",
                hint="Choose one build_id from the builds table.",
            )
        return str(builds[0])
    if build_id not in set(builds):
        raise PlotInputError(
            f"{function}: `build_id` {build_id!r} not found in `data`",
            hint="Choose a build_id that occurs in the table.",
        )
    return build_id


def axes_or_current(ax: Axes | None) -> Axes:
    return plt.gca() if ax is None else ax
