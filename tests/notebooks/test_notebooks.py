"""Execute the notebooks with small parameters, and check that they are saved without outputs."""

from __future__ import annotations

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


def execute(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
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
    execute("01-cache-semantics.ipynb", tmp_path, monkeypatch)


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
    execute("03-corpus-study.ipynb", tmp_path, monkeypatch, CACHELAB_NB_CORPUS_DIR=str(corpus))
    assert (tmp_path / "out" / "model" / "headline.parquet").is_file()
    assert (tmp_path / "out" / "replay" / "direction.parquet").is_file()


def test_regression_study_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needs_builder()
    execute("04-regression-study.ipynb", tmp_path, monkeypatch)
    assert (tmp_path / "out" / "version-b" / "builds.parquet").is_file()
