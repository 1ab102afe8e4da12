"""Notebook 01's definition of the `not-probed` decision covers every reason for it."""

from __future__ import annotations

import re

import nbformat

from tests.fixtures.paths import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "01-cache-semantics.ipynb"


def not_probed_definition() -> str:
    """Return the bracketed text after `not-probed` in the notebook's markdown, on one line."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    markdown = " ".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    text = " ".join(markdown.split())
    match = re.search(r"`not-probed` \(([^()]*)\)", text)
    assert match is not None, "notebook 01 defines no `not-probed` decision"
    return match.group(1)


def test_not_probed_covers_metadata() -> None:
    definition = not_probed_definition()

    assert "metadata" in definition
    assert "ENV" in definition
    assert "ARG" in definition


def test_not_probed_covers_earlier_miss() -> None:
    assert "earlier probe in the same stage missed" in not_probed_definition()
