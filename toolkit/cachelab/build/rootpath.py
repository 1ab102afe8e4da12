"""Paths inside a stage root, resolved the way a process chrooted into it would.

Symlinks met on the way are followed inside the root: an absolute target starts
again at the root, and `..` at the root stays at the root. So a resolved path
never leaves the root, whatever links an earlier instruction left there.
"""

from __future__ import annotations

import os
import stat

MAX_SYMLINK_HOPS = 40  # Linux's MAXSYMLINKS


def resolve_in_root(root: str, path: str, *, follow_last: bool = True) -> str:
    """Return the host path of `path` (absolute or relative to `/`) inside `root`.

    With `follow_last` false, a symlink in the last component is not followed,
    so the caller can replace the link itself. Missing components are kept as
    written.
    """
    pending = [part for part in path.split("/") if part]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if not pending and not follow_last:
            resolved.append(part)
            break
        try:
            mode = os.lstat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if not stat.S_ISLNK(mode):
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise OSError(f"too many levels of symlinks resolving {path!r} in {root}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending = [item for item in target.split("/") if item] + pending
    return os.path.join(root, *resolved)


def relative_to_root(root: str, host_path: str) -> str:
    """Return the root-relative form (`a/b`) of a host path inside `root`."""
    relative = os.path.relpath(host_path, root)
    return "" if relative == "." else relative
