"""Fixtures shared by the planner tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A build context holding `app.txt` ("hello v1"), mode 0644, as in the first case."""
    root = tmp_path / "context"
    root.mkdir()
    (root / "app.txt").write_text("hello v1\n")
    os.chmod(root / "app.txt", 0o644)
    return root
