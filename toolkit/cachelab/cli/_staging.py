"""Staged outputs: a command writes into a directory inside its output directory, then moves the results out.

`cachelab compare` and `cachelab study` use it, so a failed or interrupted run
leaves the outputs of an earlier run as they were. The staging directory is
inside the output directory, on the same file system, so each move is a rename.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


@contextlib.contextmanager
def staging_directory(out_dir: Path, *, prefix: str) -> Iterator[Path]:
    """Create `out_dir` when missing and yield a new, empty directory inside it, named `prefix` plus a random part.

    On leaving, the staging directory is deleted with whatever is still in it.
    When this call created `out_dir` or any of its parents, the outermost of
    those is deleted too, unless something else is left in `out_dir`.

    NOTE: a process killed with SIGKILL leaves its staging directory behind,
    and no later run removes it.
    """
    created = next((path for path in reversed([out_dir, *out_dir.parents]) if not path.exists()), None)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created is not None and not any(out_dir.iterdir()):
            shutil.rmtree(created, ignore_errors=True)


def replace_outputs(new: Iterable[Path], out_dir: Path, *, earlier: Iterable[Path] = ()) -> list[Path]:
    """Move each of the `new` files and directories into `out_dir` under its name, then delete the `earlier` ones not replaced.

    Returns the moved paths in `out_dir`, in the order of `new`. A directory in
    `out_dir` with the name of a new path is deleted just before the move,
    because `os.replace` cannot replace a non-empty directory. A file with the
    name of a new directory is deleted too, for the same reason.
    """
    earlier = list(earlier)
    written = []
    for path in new:
        target = out_dir / path.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif path.is_dir() and (target.exists() or target.is_symlink()):
            target.unlink()
        os.replace(path, target)
        written.append(target)
    for path in earlier:
        if path in written:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return written
