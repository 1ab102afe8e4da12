"""The notebook docs name no path outside the repository, and the `notebooks` extra installs what they tell readers to run."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.fixtures.paths import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
DOCS = sorted([NOTEBOOKS / "README.md", *NOTEBOOKS.glob("*.ipynb")])


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.name)
def test_docs_cite_no_parent_folder(path: Path) -> None:
    assert "../shared" not in path.read_text()


def test_notebooks_extra_has_nbconvert() -> None:
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = [requirement.split(">")[0].split("=")[0].strip() for requirement in extras["notebooks"]]

    assert "jupyter nbconvert --clear-output" in (NOTEBOOKS / "README.md").read_text()
    assert "nbconvert" in names
