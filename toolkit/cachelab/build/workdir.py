"""WORKDIR's filesystem part: create the directory, owned by the active user.

The config part (`WorkingDir`) is `cachelab.build.metadata`. Like kaniko, a
missing WORKDIR and its missing parents are created with mode 0755 and the uid
and gid of the current USER; an existing directory is left as it is.
"""

from __future__ import annotations

import logging
import os

from cachelab.build.copyfiles import RecordOwner
from cachelab.build.errors import InstructionError
from cachelab.build.rootpath import relative_to_root, resolve_in_root
from cachelab.build.users import ROOT, UserIds

logger = logging.getLogger(__name__)


def make_workdir(
    root: str,
    path: str,
    *,
    user: UserIds = ROOT,
    record_owner: RecordOwner | None = None,
) -> list[str]:
    """Create the absolute image path `path` inside `root`; return the image paths created.

    Without root privileges the owner goes to `record_owner` (the snapshot's
    side table) instead of `lchown`.
    """
    created: list[str] = []
    current = ""
    for part in [item for item in path.split("/") if item]:
        current = f"{current}/{part}"
        host = resolve_in_root(root, current)
        if os.path.isdir(host):
            continue
        if os.path.lexists(host):
            raise InstructionError(f"cannot create {path}: {current} exists and is not a directory")
        os.makedirs(host, mode=0o755)
        os.chmod(host, 0o755)
        _set_owner(root, host, user, record_owner)
        created.append("/" + relative_to_root(root, host))
    if created:
        logger.debug("WORKDIR created %s", ", ".join(created))
    return created


def _set_owner(root: str, host: str, user: UserIds, record_owner: RecordOwner | None) -> None:
    if os.geteuid() == 0:
        os.lchown(host, user.uid, user.gid)
    elif record_owner is not None:
        record_owner(relative_to_root(root, host), user.uid, user.gid)
