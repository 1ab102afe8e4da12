"""The ipywidgets view, driven through its controls as a notebook user would."""

from __future__ import annotations

import pytest

from cachelab.widgets import (
    ChangeBuildArg,
    EditContextFile,
    Explorer,
    MakeRunNondeterministic,
    MoveBaseTag,
)

pytest.importorskip("ipywidgets")

from cachelab.widgets.view import UNDECLARED_ARG, ExplorerView


def test_view_starts_with_cold_build(explorer: Explorer) -> None:
    view = ExplorerView(explorer)

    assert view.example.value == explorer.examples[0]
    assert view.strategy.value == "lookahead"
    assert len(explorer.builds) == 1
    assert view.status.value.startswith("build 0 (cold)")
    assert view.target.value == explorer.context_files()[0]


def test_view_context_edit_changes_table(explorer: Explorer) -> None:
    view = ExplorerView(explorer)
    view.example.value = "fan-in"
    view.strategy.value = "per-stage"
    view.change_kind.value = EditContextFile.kind
    view.target.value = "config.ini"
    view.on_apply()
    table = explorer.decisions()
    decisions = {text.split()[1]: decision for text, decision in zip(table["instruction"], table["decision"])}

    assert explorer.example == "fan-in"
    assert explorer.strategy == "per-stage"
    assert view.status.value.startswith("build 1 (edit context file config.ini)")
    assert decisions["config.ini"] == "miss"
    assert decisions["docs/"] == "hit"
    assert decisions["--from=config"] == "miss"
    assert decisions["--from=docs"] == "hit"


def test_view_strategy_change_starts_cold(explorer: Explorer) -> None:
    view = ExplorerView(explorer)
    view.example.value = "two-stage"
    view.on_rebuild()
    assert len(explorer.builds) == 2

    view.strategy.value = "per-stage"

    assert len(explorer.builds) == 1
    assert explorer.strategy == "per-stage"
    assert (explorer.decisions()["decision"] != "hit").all()


def test_view_targets_follow_change_kind(explorer: Explorer) -> None:
    view = ExplorerView(explorer)
    view.example.value = "two-stage"

    view.change_kind.value = MoveBaseTag.kind
    assert list(view.target.options) == ["busybox"]
    view.change_kind.value = MakeRunNondeterministic.kind
    run_lines = [line for line, _ in explorer.run_lines()]
    assert [value for _, value in view.target.options] == run_lines
    assert view.current_change() == MakeRunNondeterministic(run_lines[0])
    view.change_kind.value = ChangeBuildArg.kind
    assert [value for _, value in view.target.options] == [UNDECLARED_ARG]


def test_view_undeclared_arg_hits(explorer: Explorer) -> None:
    view = ExplorerView(explorer)
    view.example.value = "two-stage"
    view.change_kind.value = ChangeBuildArg.kind
    view.arg_value.value = "2"
    view.on_apply()

    assert view.current_change() == ChangeBuildArg(UNDECLARED_ARG, "2")
    assert view.status.value.startswith(f"build 1 (--build-arg {UNDECLARED_ARG}=2)")
    assert (explorer.decisions()["decision"] == "hit").all()


def test_view_shows_error_in_status(explorer: Explorer) -> None:
    view = ExplorerView(explorer)
    view.example.value = "two-stage"
    view.change_kind.value = EditContextFile.kind
    view.target.options = ["missing.txt"]
    view.target.value = "missing.txt"
    view.on_apply()

    assert view.status.value.startswith("<b>error:</b>")
    assert "missing.txt" in view.status.value
    assert len(explorer.builds) == 1
