"""Execute the notebooks with small parameters, and check that they are saved without outputs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from cachelab.oci.busybox import DEFAULT_BUSYBOX
from tests.fixtures.paths import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
NAMES = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))
# Small runs: two fast examples, two repeats (the least a bootstrap interval needs).
SMALL = {
    "CACHELAB_NB_REPEATS": "2",
    "CACHELAB_NB_EXAMPLES": "two-stage,nondeterministic",
    "CACHELAB_NB_SAMPLE": "40",
    "CACHELAB_NB_REPLAY_SAMPLE": "2",
}


def needs_builder() -> None:
    if not shutil.which("bwrap"):
        pytest.skip("RUN needs bubblewrap (Debian: apt-get install bubblewrap)")
    if not Path(DEFAULT_BUSYBOX).is_file():
        pytest.skip(f"needs Debian's busybox-static at {DEFAULT_BUSYBOX}")


def execute(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: str
) -> nbformat.NotebookNode:
    """Run notebook `name` with the small parameters and return it with its outputs."""
    from nbclient import NotebookClient

    for variable, value in {**SMALL, "CACHELAB_NB_OUT": str(tmp_path / "out"), **extra}.items():
        monkeypatch.setenv(variable, value)
    # The kernel's own inline backend renders the figures, as in JupyterLab.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    return notebook


def output_text(notebook: nbformat.NotebookNode) -> str:
    """Return the printed and plain-text outputs of every code cell, joined."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append(output["text"])
            elif "text/plain" in output.get("data", {}):
                texts.append(output["data"]["text/plain"])
    return "\n".join(texts)


def test_notebooks_found() -> None:
    assert NAMES == [
        "01-cache-semantics.ipynb",
        "02-lookahead-benchmark.ipynb",
        "03-corpus-study.ipynb",
        "04-regression-study.ipynb",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_saved_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]

    assert code_cells
    for cell in code_cells:
        assert cell.outputs == [], f"{name} cell {cell.get('id')} has outputs"
        assert cell.execution_count is None, f"{name} cell {cell.get('id')} has an execution count"


@pytest.mark.parametrize("name", NAMES)
def test_saved_notebook_valid(name: str) -> None:
    nbformat.validate(nbformat.read(NOTEBOOKS / name, as_version=4))


def test_cache_semantics_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needs_builder()
    notebook = execute("01-cache-semantics.ipynb", tmp_path, monkeypatch)
    text = output_text(notebook)

    # The text explains lookahead's squash of `base`, so a table must show it.
    assert "squashed" in text
    assert "origin_stage_index" in text
    # what_changed is shown whole, up to what changed about the file.
    assert "config.ini: content" in text


def test_lookahead_benchmark_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needs_builder()
    execute("02-lookahead-benchmark.ipynb", tmp_path, monkeypatch)
    assert (tmp_path / "out" / "two-stage" / "builds.parquet").is_file()


def test_corpus_study_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: Path) -> None:
    # Without a local copy the notebook downloads the corpus, which tests never do.
    needs_builder()
    corpus = shared / "corpora" / "real-v1"
    if not corpus.is_dir():
        pytest.skip(f"no local corpus copy at {corpus}")
    notebook = execute("03-corpus-study.ipynb", tmp_path, monkeypatch, CACHELAB_NB_CORPUS_DIR=str(corpus))
    text = output_text(notebook)

    assert not re.search(r"\d\.\d+e[+-]\d\d", text), "a table shows a number in scientific notation"
    assert "studied" in text
    assert "measured saving" in text
    assert (tmp_path / "out" / "model" / "headline.parquet").is_file()
    assert (tmp_path / "out" / "replay" / "direction.parquet").is_file()


def test_regression_study_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needs_builder()
    notebook = execute("04-regression-study.ipynb", tmp_path, monkeypatch)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")

    # The text names compare_recordings as the function the verdicts come from.
    assert "compare_recordings(" in code
    assert (tmp_path / "out" / "version-b" / "builds.parquet").is_file()
