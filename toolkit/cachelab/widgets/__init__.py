"""An interactive explorer of kaniko's cache decisions on the example builds.

`Explorer` builds an example under a strategy, applies a change (edit a context
file, change a build argument, move a base tag, make a RUN nondeterministic,
forget a cached layer),
rebuilds, and returns the decisions of each instruction with what changed in its
key. `explore()` wraps it in ipywidgets controls for a notebook; importing it
without ipywidgets installed raises an ImportError that names the package.
"""

from __future__ import annotations

from typing import Any

from cachelab.widgets.changes import (
    CHANGE_KINDS,
    Change,
    ChangeBuildArg,
    EditContextFile,
    ForgetCachedLayer,
    MakeRunNondeterministic,
    MoveBaseTag,
)
from cachelab.widgets.errors import ExplorerError
from cachelab.widgets.explorer import EXAMPLES_DIR, Explorer, ExplorerBuild, decision_table

__all__ = [
    "CHANGE_KINDS",
    "EXAMPLES_DIR",
    "Change",
    "ChangeBuildArg",
    "EditContextFile",
    "Explorer",
    "ExplorerBuild",
    "ExplorerError",
    "ForgetCachedLayer",
    "MakeRunNondeterministic",
    "MoveBaseTag",
    "decision_table",
    "explore",
]


def explore(explorer: Explorer | None = None) -> Any:
    """Return the explorer widget to display in a notebook cell (needs ipywidgets)."""
    from cachelab.widgets.view import explore as make_widget

    return make_widget(explorer)
