"""Mutations: the changes a scenario makes to its work copy before a build.

Each mutation is a frozen dataclass with an `op` name (its key in scenario files),
`apply(workspace)` and `describe()`. Register a new kind by adding its class to
`MUTATIONS`; scenario files then accept it with the dataclass fields as keys.

Before any build, `cachelab.study.preflight` applies every step to an outline
copy of the user's context. A mutation whose `apply` changes anything outside
the workspace (an image store, a registry) also defines `check(workspace)`,
which validates the same inputs without that effect.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from cachelab.study.errors import MutationError
from cachelab.study.rebuild import MakeRunNondeterministic, MoveBaseTag, SetCacheTTL
from cachelab.study.workspace import Workspace

logger = logging.getLogger(__name__)


class Mutation(Protocol):
    """A change applied to a workspace before a scenario step's build."""

    op: ClassVar[str]

    def apply(self, workspace: Workspace) -> None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class EditFile:
    """Replace a context file's content with `content`, or append `append` to it."""

    op: ClassVar[str] = "edit"
    path: str
    content: str | None = None
    append: str | None = None

    def __post_init__(self) -> None:
        if (self.content is None) == (self.append is None):
            raise MutationError(
                f"edit of {self.path!r} needs exactly one of `content` and `append`",
                hint="Give the new content, or the text to append.",
            )

    def apply(self, workspace: Workspace) -> None:
        target = _existing_file(workspace, self.path, self.op)
        if self.content is not None:
            target.write_text(self.content)
        else:
            with target.open("a") as handle:
                handle.write(self.append or "")

    def describe(self) -> str:
        return f"edit {self.path}"


@dataclass(frozen=True)
class CreateFile:
    """Create a context file (and its parent directories) that does not exist yet."""

    op: ClassVar[str] = "create"
    path: str
    content: str = ""
    mode: int | None = None

    def apply(self, workspace: Workspace) -> None:
        target = workspace.context_path(self.path)
        if _present(target):
            raise MutationError(
                f"cannot create {self.path}: it already exists in the build context {workspace.user_context}",
                hint="Use an `edit` mutation to change an existing file.",
            )
        _check_parents(workspace, target, self.path, self.op)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.content)
        if self.mode is not None:
            os.chmod(target, self.mode)

    def describe(self) -> str:
        return f"create {self.path}"


@dataclass(frozen=True)
class DeleteFile:
    """Delete a context file, symbolic link or directory tree."""

    op: ClassVar[str] = "delete"
    path: str

    def apply(self, workspace: Workspace) -> None:
        target = workspace.context_path(self.path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif _present(target):
            target.unlink()
        else:
            raise _missing(workspace, self.path, self.op)

    def describe(self) -> str:
        return f"delete {self.path}"


@dataclass(frozen=True)
class RenameFile:
    """Move a context file or directory to `to`, which must not exist."""

    op: ClassVar[str] = "rename"
    path: str
    to: str

    def apply(self, workspace: Workspace) -> None:
        source = workspace.context_path(self.path)
        destination = workspace.context_path(self.to)
        if not _present(source):
            raise _missing(workspace, self.path, self.op)
        if _present(destination):
            raise MutationError(
                f"cannot rename {self.path} to {self.to}: the destination exists in the build context "
                f"{workspace.user_context}",
                hint="Delete the destination first or choose another name.",
            )
        _check_parents(workspace, destination, self.to, self.op)
        destination.parent.mkdir(parents=True, exist_ok=True)
        source.rename(destination)

    def describe(self) -> str:
        return f"rename {self.path} to {self.to}"


@dataclass(frozen=True)
class Chmod:
    """Set the permission bits of a context file or directory (e.g. `0o755`)."""

    op: ClassVar[str] = "chmod"
    path: str
    mode: int

    def __post_init__(self) -> None:
        if not 0 <= self.mode <= 0o7777:
            raise MutationError(
                f"chmod of {self.path!r}: mode {self.mode:#o} is out of range",
                hint="Give permission bits between 0o000 and 0o7777, e.g. 0o755.",
            )

    def apply(self, workspace: Workspace) -> None:
        target = workspace.context_path(self.path, follow_links=True)
        if not target.exists():
            raise _missing(workspace, self.path, self.op)
        os.chmod(target, self.mode)

    def describe(self) -> str:
        return f"chmod {self.mode:04o} {self.path}"


@dataclass(frozen=True)
class Touch:
    """Change only a context file's modification time, to `mtime` (Unix seconds).

    Without `mtime` the new time is now, and at least one second after the old
    time, so file systems with coarse timestamps still see a change.
    """

    op: ClassVar[str] = "touch"
    path: str
    mtime: float | None = None

    def apply(self, workspace: Workspace) -> None:
        target = workspace.context_path(self.path, follow_links=True)
        if not target.exists():
            raise _missing(workspace, self.path, self.op)
        status = target.stat()
        mtime = self.mtime if self.mtime is not None else max(time.time(), status.st_mtime + 1.0)
        os.utime(target, (status.st_atime, mtime))

    def describe(self) -> str:
        return f"touch {self.path}"


@dataclass(frozen=True)
class SetBuildArg:
    """Set the build argument `name` to `value` for this and later builds."""

    op: ClassVar[str] = "set-arg"
    name: str
    value: str

    def apply(self, workspace: Workspace) -> None:
        workspace.build_args[self.name] = self.value

    def describe(self) -> str:
        return f"--build-arg {self.name}={self.value}"


@dataclass(frozen=True)
class RemoveBuildArg:
    """Stop passing the build argument `name`."""

    op: ClassVar[str] = "remove-arg"
    name: str

    def apply(self, workspace: Workspace) -> None:
        if self.name not in workspace.build_args:
            raise MutationError(
                f"cannot remove build argument {self.name!r}: it is not set",
                hint=f"Set it first; the build arguments now set are: {_names(workspace.build_args)}.",
            )
        del workspace.build_args[self.name]

    def describe(self) -> str:
        return f"remove --build-arg {self.name}"


@dataclass(frozen=True)
class SetTarget:
    """Build stage `target` from now on; `None` builds the last stage."""

    op: ClassVar[str] = "target"
    target: str | None = None

    def apply(self, workspace: Workspace) -> None:
        workspace.targets = () if self.target is None else (self.target,)

    def describe(self) -> str:
        return f"--target {self.target}" if self.target is not None else "target the last stage"


@dataclass(frozen=True)
class EditInstruction:
    """Replace physical line `line` (1-based) of the Dockerfile with `text`.

    A continued instruction spans several physical lines; only the named line changes.
    """

    op: ClassVar[str] = "edit-instruction"
    line: int
    text: str

    def apply(self, workspace: Workspace) -> None:
        lines = workspace.dockerfile.read_text().splitlines(keepends=True)
        if not 1 <= self.line <= len(lines):
            raise MutationError(
                f"{workspace.user_dockerfile} has {len(lines)} lines, so line {self.line} "
                "cannot be edited",
                hint="Give a line number of the original Dockerfile.",
            )
        ending = "\n" if lines[self.line - 1].endswith("\n") else ""
        lines[self.line - 1] = self.text.rstrip("\n") + ending
        workspace.dockerfile.write_text("".join(lines))

    def describe(self) -> str:
        return f"Dockerfile line {self.line}: {self.text}"


@dataclass(frozen=True)
class ClearCache:
    """Empty the layer cache, so the next build runs cold."""

    op: ClassVar[str] = "clear-cache"

    def apply(self, workspace: Workspace) -> None:
        workspace.clear_cache()

    def describe(self) -> str:
        return "clear the cache"


# Mutation classes by the `op` name scenario files use.
MUTATIONS: dict[str, type] = {
    cls.op: cls
    for cls in (
        EditFile,
        CreateFile,
        DeleteFile,
        RenameFile,
        Chmod,
        Touch,
        SetBuildArg,
        RemoveBuildArg,
        SetTarget,
        EditInstruction,
        ClearCache,
        MoveBaseTag,
        MakeRunNondeterministic,
        SetCacheTTL,
    )
}


def apply_mutation(mutation: Mutation, workspace: Workspace) -> None:
    """Apply `mutation`, turning a file-system error into a `MutationError` that names the user's path."""
    try:
        mutation.apply(workspace)
    except OSError as exc:
        raise _os_error(mutation, workspace, exc) from exc


def check_mutation(mutation: Mutation, workspace: Workspace) -> None:
    """Validate `mutation` on an outline workspace: its `check` if it has one, else `apply`."""
    check = getattr(mutation, "check", None)
    if check is None:
        apply_mutation(mutation, workspace)
        return
    try:
        check(workspace)
    except OSError as exc:
        raise _os_error(mutation, workspace, exc) from exc


def _os_error(mutation: Mutation, workspace: Workspace, exc: OSError) -> MutationError:
    where = workspace.user_path(exc.filename) if exc.filename is not None else workspace.user_context
    return MutationError(
        f"{mutation.describe()} failed on {where}: {exc.strerror or exc}",
        hint="Change the scenario step so that it fits the files of the build context at that step.",
    )


def _existing_file(workspace: Workspace, path: str, op: str) -> Path:
    target = workspace.context_path(path, follow_links=True)
    if target.is_dir():
        raise MutationError(
            f"{op}: {path} is a directory in the build context {workspace.user_context}, and {op} needs a file",
            hint=f"Name one file inside {path}, such as {path}/FILE.",
        )
    if not target.is_file():
        raise _missing(workspace, path, op)
    return target


def _check_parents(workspace: Workspace, target: Path, path: str, op: str) -> None:
    # A parent that exists but is no directory would make mkdir fail with the copy's path.
    for parent in target.parents:
        if parent == workspace.context:
            break
        if not _present(parent):
            continue
        if not parent.is_dir():
            raise MutationError(
                f"{op}: {parent.relative_to(workspace.context)} in {path} is not a directory in the build "
                f"context {workspace.user_context}",
                hint="Name a path whose parents are directories at this step.",
            )
        break


def _present(path: Path) -> bool:
    # `exists()` follows links, so a dangling link counts only through `is_symlink()`.
    return path.exists() or path.is_symlink()


def _missing(workspace: Workspace, path: str, op: str) -> MutationError:
    return MutationError(
        f"{op}: {path} not found in the build context {workspace.user_context}",
        hint="Name a path relative to the build context that exists at this step.",
    )


def _names(build_args: dict[str, str]) -> str:
    return ", ".join(sorted(build_args)) or "none"
