"""Notebook 02's ratio figure: no point label crosses the dashed line at ratio 1."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import nbformat
import pandas as pd

from tests.fixtures.paths import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "02-lookahead-benchmark.ipynb"


def _ratio_figure_source() -> str:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code" and "ax.axvline(1.0" in cell.source]
    assert len(cells) == 1
    return cells[0]


def test_labels_clear_of_ratio_one() -> None:
    # Ratios close to 1 on both sides, where a label centred on its point crosses the line.
    ratios = pd.DataFrame({
        "dockerfile_id": ["examples/a", "examples/b", "examples/c", "examples/d"],
        "strategy": ["lookahead"] * 4,
        "ratio": [1.1, 0.92, 0.03, 1.0],
        "ci_low": [1.02, 0.85, 0.02, 0.95],
        "ci_high": [1.2, 0.99, 0.04, 1.05],
        "verdict": ["same", "same", "faster", "same"],
    })
    namespace = {"plt": plt, "pd": pd, "Path": Path, "ratios": ratios}

    exec(_ratio_figure_source(), namespace)

    figure = namespace["figure"]
    ax = namespace["ax"]
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    line_x = ax.transData.transform((1.0, 0.0))[0]
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert not box.x0 <= line_x <= box.x1, f"label {text.get_text()!r} crosses the line at 1"
    tick_labels = [label.get_text() for label in ax.get_yticklabels()]
    assert tick_labels == ["a\n1.1 (same)", "b\n0.92 (same)", "c\n0.03 (faster)", "d\n1 (same)"]
    plt.close(figure)
