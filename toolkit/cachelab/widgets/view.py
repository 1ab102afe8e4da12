"""The ipywidgets face of the explorer: controls that call `Explorer` methods and redraw.

All logic is in `cachelab.widgets.explorer.Explorer`; this module only builds the
controls, turns their values into calls, and renders the results into outputs.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import pandas as pd

from cachelab.build.request import STRATEGIES
from cachelab.study.runner import BUILD_FAILURES
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
from cachelab.widgets.explorer import Explorer

logger = logging.getLogger(__name__)

try:
    import ipywidgets as widgets
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "cachelab.widgets needs ipywidgets; install it with `pip install ipywidgets` "
        "(or `pip install 'cachelab[notebooks]'`)"
    ) from exc

# Errors shown in the status line instead of raised: a bad choice or a failed build.
EXPLORER_FAILURES: tuple[type[Exception], ...] = (*BUILD_FAILURES, ExplorerError)

# The build argument offered besides the declared ones; no Dockerfile here declares it.
UNDECLARED_ARG = "CACHELAB_UNDECLARED"

CHANGE_LABELS = {
    EditContextFile.kind: "edit a context file",
    ChangeBuildArg.kind: "change a build arg",
    MoveBaseTag.kind: "move a base tag",
    MakeRunNondeterministic.kind: "make a RUN nondeterministic",
    ForgetCachedLayer.kind: "forget a cached layer",
}


class ExplorerView:
    """Dropdowns for example, strategy and change, buttons to apply or rebuild, and outputs.

    `widget` is the box to display. The controls are attributes, so a test or a
    script can set their values and call `on_apply()` as a click would.
    """

    def __init__(self, explorer: Explorer | None = None) -> None:
        self.explorer = explorer or Explorer()
        self.example = widgets.Dropdown(options=self.explorer.examples, description="example")
        self.strategy = widgets.Dropdown(options=list(STRATEGIES), value="lookahead", description="strategy")
        self.change_kind = widgets.Dropdown(
            options=[(CHANGE_LABELS[kind], kind) for kind in CHANGE_KINDS], description="change"
        )
        self.target = widgets.Dropdown(options=[], description="target")
        self.arg_value = widgets.Text(value="1", description="value")
        self.apply_button = widgets.Button(description="apply change and rebuild")
        self.rebuild_button = widgets.Button(description="rebuild unchanged")
        self.status = widgets.HTML()
        self.table = widgets.Output()
        self.figure = widgets.Output()

        self.example.observe(self._on_selection, names="value")
        self.strategy.observe(self._on_selection, names="value")
        self.change_kind.observe(lambda _: self._refresh_targets(), names="value")
        self.apply_button.on_click(lambda _: self.on_apply())
        self.rebuild_button.on_click(lambda _: self.on_rebuild())

        controls = widgets.VBox([
            widgets.HBox([self.example, self.strategy]),
            widgets.HBox([self.change_kind, self.target, self.arg_value]),
            widgets.HBox([self.apply_button, self.rebuild_button]),
            self.status,
        ])
        self.widget = widgets.VBox([controls, self.table, self.figure])
        self.on_select()

    def on_select(self) -> None:
        """Start a session for the chosen example and strategy (a cold build) and redraw."""
        self._run(lambda: self.explorer.select(self.example.value, self.strategy.value))
        self._refresh_targets()

    def on_apply(self) -> None:
        """Apply the change the controls describe, rebuild and redraw."""
        self._run(lambda: self.explorer.apply(self.current_change()))

    def on_rebuild(self) -> None:
        """Rebuild with nothing changed and redraw."""
        self._run(self.explorer.rebuild)

    def current_change(self) -> Change:
        """Return the change the controls describe, or raise `ExplorerError`."""
        kind, target = self.change_kind.value, self.target.value
        if target is None:
            raise ExplorerError(f"no target chosen for change {kind!r}", hint="Pick a target first.")
        if kind == EditContextFile.kind:
            return EditContextFile(str(target))
        if kind == ChangeBuildArg.kind:
            return ChangeBuildArg(str(target), self.arg_value.value)
        if kind == MoveBaseTag.kind:
            return MoveBaseTag(str(target))
        if kind == ForgetCachedLayer.kind:
            return ForgetCachedLayer(int(target))
        return MakeRunNondeterministic(int(target))

    def _on_selection(self, _: Any) -> None:
        self.on_select()

    def _refresh_targets(self) -> None:
        kind = self.change_kind.value
        options: list[Any]
        if not self.explorer.builds:
            options = []
        elif kind == EditContextFile.kind:
            options = self.explorer.context_files()
        elif kind == ChangeBuildArg.kind:
            # An undeclared argument is offered too: passing it changes no key.
            options = [*self.explorer.build_arg_names(), (f"{UNDECLARED_ARG} (not declared)", UNDECLARED_ARG)]
        elif kind == MoveBaseTag.kind:
            options = self.explorer.base_references()
        elif kind == ForgetCachedLayer.kind:
            options = [(f"line {line}: {text[:50]}", line) for line, text in self.explorer.keyed_lines()]
        else:
            options = [(f"line {line}: {text[:50]}", line) for line, text in self.explorer.run_lines()]
        self.target.options = options
        # A Dropdown keeps no value when its options are replaced, so choose the first.
        self.target.index = 0 if options else None
        self.arg_value.layout.display = None if kind == ChangeBuildArg.kind else "none"

    def _run(self, action: Any) -> None:
        self.status.value = "building..."
        try:
            built = action()
        except EXPLORER_FAILURES as exc:
            logger.warning("explorer on %s (%s): %s", self.explorer.example, self.explorer.strategy, exc)
            hint = getattr(exc, "hint", None) or ""
            self.status.value = f"<b>error:</b> {html.escape(str(exc))} {html.escape(hint)}"
            return
        self.status.value = f"build {built.step} ({built.label}): {built.result.wall_s:.2f} s"
        self._redraw()

    def _redraw(self) -> None:
        from IPython.display import display
        from matplotlib.figure import Figure

        table = self.explorer.decisions()
        self.table.clear_output(wait=True)
        # The first 12 hex digits tell keys apart in a table this small, and
        # `what_changed` is shown whole because its last words name what changed.
        with self.table, pd.option_context("display.max_colwidth", None):
            display(table.assign(cache_key=table["cache_key"].str[:12]))

        figure = Figure(figsize=(9, 0.6 * (len(self.explorer.last.recording.stages) + 2)))
        self.explorer.timeline(ax=figure.subplots())
        self.figure.clear_output(wait=True)
        with self.figure:
            display(figure)


def explore(explorer: Explorer | None = None) -> Any:
    """Return the explorer widget to display in a notebook cell."""
    return ExplorerView(explorer).widget
