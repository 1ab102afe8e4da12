"""Find the program a RUN step starts inside the stage's root, before the sandbox runs it.

A stage `FROM scratch` has no /bin/sh, and the sandbox then fails with
`execvp ...: No such file or directory` and exit code 1, which reads like a
failing command. Looking the program up first gives an error that names it.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence

from cachelab.build.rootpath import resolve_in_root
from cachelab.build.sandbox import SandboxMount


def program_found(
    root: str, program: str, *, env: Sequence[str], workdir: str, mounts: Sequence[SandboxMount],
) -> bool:
    """Return whether `program` (argv[0] of a RUN step) names a file inside `root`.

    A name with `/` is a path, relative to `workdir` unless absolute. A bare name
    is searched in the directories of PATH from `env`. It counts as found when
    `env` sets no PATH, because the search path the sandbox then uses is not
    checked here. A path under a mount target counts as found, because the mount
    provides it.
    """
    if "/" in program:
        return _path_found(root, posixpath.join(workdir, program), mounts)
    search_path = next((item[len("PATH="):] for item in reversed(env) if item.startswith("PATH=")), None)
    if search_path is None:
        return True
    directories = [directory or workdir for directory in search_path.split(":")]
    return any(_path_found(root, posixpath.join(directory, program), mounts) for directory in directories)


def _path_found(root: str, path: str, mounts: Sequence[SandboxMount]) -> bool:
    path = posixpath.normpath(path)
    for mount in mounts:
        target = mount.target.rstrip("/")
        if path == target or path.startswith(target + "/"):
            return True
    try:
        return os.path.isfile(resolve_in_root(root, path))
    except OSError:
        # A symlink loop: the sandbox cannot start the program either.
        return False
