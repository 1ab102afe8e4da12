"""User and group names resolved through a stage root's /etc/passwd and /etc/group.

USER, `COPY --chown` and WORKDIR name users the way Docker does: `user`,
`user:group`, `uid`, `uid:gid`, names or numbers mixed. Numbers need no entry in
the files; names must have one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cachelab.build.errors import InstructionError


@dataclass(frozen=True, slots=True)
class UserIds:
    """A resolved user: its uid, primary gid and supplementary group ids."""

    uid: int
    gid: int
    groups: tuple[int, ...] = ()


ROOT = UserIds(0, 0)


def _read_table(root: str, name: str) -> list[list[str]]:
    path = os.path.join(root, "etc", name)
    if os.path.islink(path) or not os.path.isfile(path):
        return []  # a symlink could point outside the root
    rows: list[list[str]] = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                rows.append(line.split(":"))
    return rows


def _lookup_user(root: str, user: str) -> tuple[int, int | None, str | None]:
    """Return (uid, primary gid or None, user name or None) for a name or number."""
    rows = _read_table(root, "passwd")
    if user.isdigit():
        uid = int(user)
        for row in rows:
            if len(row) >= 4 and row[2] == user:
                return uid, int(row[3]), row[0]
        return uid, None, None
    for row in rows:
        if len(row) >= 4 and row[0] == user:
            return int(row[2]), int(row[3]), user
    raise InstructionError(
        f"user {user!r} not found in the stage's /etc/passwd",
        hint="Create the user in an earlier RUN step or use a numeric uid.",
    )


def _lookup_group(root: str, group: str) -> int:
    if group.isdigit():
        return int(group)
    for row in _read_table(root, "group"):
        if len(row) >= 3 and row[0] == group:
            return int(row[2])
    raise InstructionError(
        f"group {group!r} not found in the stage's /etc/group",
        hint="Create the group in an earlier RUN step or use a numeric gid.",
    )


def _supplementary_groups(root: str, user_name: str | None, primary: int) -> tuple[int, ...]:
    if user_name is None:
        return ()
    found: list[int] = []
    for row in _read_table(root, "group"):
        if len(row) >= 4 and user_name in row[3].split(",") and row[2].isdigit():
            gid = int(row[2])
            if gid != primary and gid not in found:
                found.append(gid)
    return tuple(found)


def resolve_user(root: str | os.PathLike[str], spec: str) -> UserIds:
    """Resolve a USER value (`name`, `name:group`, `uid:gid`, ...) inside `root`.

    Without a group, the primary group comes from /etc/passwd (gid 0 for a
    numeric uid without an entry), and supplementary groups from /etc/group.
    """
    root_str = os.fspath(root)
    spec = spec.strip() or "root"
    user, _, group = spec.partition(":")
    uid, primary, user_name = _lookup_user(root_str, user)
    if group:
        gid = _lookup_group(root_str, group)
        return UserIds(uid, gid)
    gid = primary if primary is not None else 0
    return UserIds(uid, gid, _supplementary_groups(root_str, user_name, gid))


def resolve_chown(root: str | os.PathLike[str], spec: str) -> tuple[int, int]:
    """Resolve a `--chown` value to (uid, gid).

    Docker's reference for COPY: a user name or uid given without a group uses
    the same number as gid, unlike USER, which takes the passwd primary group.
    """
    root_str = os.fspath(root)
    user, _, group = spec.partition(":")
    uid, _, _ = _lookup_user(root_str, user)
    if group:
        return uid, _lookup_group(root_str, group)
    return uid, uid


def home_directory(root: str | os.PathLike[str], uid: int) -> str:
    """Return the home directory of `uid` from /etc/passwd; `/root` for root, else `/`."""
    for row in _read_table(os.fspath(root), "passwd"):
        if len(row) >= 6 and row[2] == str(uid) and row[5]:
            return row[5]
    return "/root" if uid == 0 else "/"
