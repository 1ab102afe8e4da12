"""Build small file trees with the modes and owner kaniko saw in its recorded runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

IS_ROOT = os.geteuid() == 0

#: For tests that set file owners or compare with keys of root-owned files.
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root to set file owners")


def make_tree(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (relative path -> text) under `root`: files 0644, directories 0755.

    As root the owner is also set to root:root; otherwise the current user keeps it.
    """
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    for path in [root, *root.rglob("*")]:
        if IS_ROOT:
            os.chown(path, 0, 0)
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root
