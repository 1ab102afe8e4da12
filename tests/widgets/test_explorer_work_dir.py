"""An Explorer given a missing work_dir raises ExplorerError naming it, not a FileNotFoundError."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.widgets import Explorer, ExplorerError


def test_missing_work_dir_rejected(tmp_path: Path) -> None:
    missing = tmp_path / "absent"

    with pytest.raises(ExplorerError) as caught:
        Explorer(work_dir=missing)

    assert str(caught.value) == f"work_dir not found: {missing}"
    assert caught.value.hint is not None
    assert "leave out work_dir" in caught.value.hint
    assert not missing.exists()


def test_existing_work_dir_holds_scratch(tmp_path: Path) -> None:
    with Explorer(work_dir=tmp_path) as explorer:
        assert explorer.scratch.parent == tmp_path
