"""Output files of the commands that write one file (`scan --out`, `keys --parts`).

Missing folders above the file are created, as `compare --out` and `study --out`
create theirs, and the command removes them again when it fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cachelab.errors import CachelabError


def create_parent_folders(path: Path, *, option: str) -> Path | None:
    """Create the missing folders above `path`, and return the outermost one created (None if none was).

    Raises CachelabError naming `option` when a folder cannot be created.
    """
    created = next((folder for folder in reversed(path.absolute().parents) if not folder.exists()), None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(path, exc, option=option) from exc
    return created


def remove_created_folders(created: Path | None) -> None:
    """Remove the folders `create_parent_folders` created, if nothing was written into them."""
    if created is not None and not any(path.is_file() for path in created.rglob("*")):
        shutil.rmtree(created, ignore_errors=True)


def output_error(path: Path, exc: OSError, *, option: str) -> CachelabError:
    """Return the error for an output file that could not be written, naming the option that gave it."""
    return CachelabError(
        f"failed to write {option} {path}: {exc.strerror or exc}",
        hint=f"give {option} a path in a folder you can write to",
    )
