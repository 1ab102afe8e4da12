"""Importing the widget layer without ipywidgets names the package to install."""

from __future__ import annotations

import importlib
import sys

import pytest


def test_missing_ipywidgets_names_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    monkeypatch.delitem(sys.modules, "cachelab.widgets.view", raising=False)

    with pytest.raises(ImportError, match="pip install ipywidgets"):
        importlib.import_module("cachelab.widgets.view")


def test_explorer_imports_without_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    for name in ("cachelab.widgets", "cachelab.widgets.explorer", "cachelab.widgets.view"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    module = importlib.import_module("cachelab.widgets")

    assert module.Explorer.__name__ == "Explorer"
    with pytest.raises(ImportError, match="ipywidgets"):
        module.explore()
