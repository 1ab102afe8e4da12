"""Build small file trees with the modes and owner kaniko saw in its recorded runs."""

from __future__ import annotations

import os
from pathlib import Path


def make_tree(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (relative path -> text) under `root`: files 0644, directories 0755, root:root."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    for path in [root, *root.rglob("*")]:
        os.chown(path, 0, 0)
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root
