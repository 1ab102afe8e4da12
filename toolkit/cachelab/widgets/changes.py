"""The changes the explorer applies between two builds of one example.

Each change is a frozen dataclass with `apply(workspace, images)` and
`describe()`. Context edits, build arguments and Dockerfile edits reuse the
study's mutations. Moving a base tag rewrites a tag of the explorer's own image
store, never the user's.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from cachelab.oci.busybox import busybox_rootfs
from cachelab.oci.importer import import_rootfs
from cachelab.oci.layout import LayoutStore
from cachelab.oci.reference import parse_reference
from cachelab.study import EditFile, EditInstruction, SetBuildArg, Workspace
from cachelab.widgets.errors import ExplorerError

logger = logging.getLogger(__name__)

# The line an edit appends; any new content changes the file's hash and so the key.
EDIT_LINE = "# edited in the cachelab explorer\n"
# Appended to a RUN so that its output differs on every execution. Random bytes,
# because busybox's `date` has no %N and the time alone repeats within a second.
NONDETERMINISTIC_SUFFIX = " && head -c 8 /dev/urandom | od -A n -t x1 > /.random-bytes"
# The file a moved tag's image adds to busybox, so the new image has a new digest.
MOVED_TAG_FILE = "etc/cachelab-tag-version"


class Change(Protocol):
    """A change made to the explorer's work copy or image store before a rebuild."""

    kind: ClassVar[str]

    def apply(self, workspace: Workspace, image_store: Path) -> None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class EditContextFile:
    """Append a line to a file of the build context."""

    kind: ClassVar[str] = "edit-file"
    path: str

    def apply(self, workspace: Workspace, image_store: Path) -> None:
        EditFile(self.path, append=EDIT_LINE).apply(workspace)

    def describe(self) -> str:
        return f"edit context file {self.path}"


@dataclass(frozen=True)
class ChangeBuildArg:
    """Pass build argument `name` with `value` from the next build on."""

    kind: ClassVar[str] = "build-arg"
    name: str
    value: str

    def apply(self, workspace: Workspace, image_store: Path) -> None:
        check_build_arg_name(self.name, self.value)
        SetBuildArg(self.name, self.value).apply(workspace)

    def describe(self) -> str:
        return f"--build-arg {self.name}={self.value}"


def check_build_arg_name(name: str, value: str) -> None:
    """Raise ExplorerError for a build argument name that `cachelab build --build-arg` rejects.

    The messages are those of the CLI. A name with `=` is rejected too, because
    on the command line the name ends at the first `=`.
    """
    argument = f"{name}={value}"
    hint = "Give the name of an ARG the Dockerfile declares (see Explorer.build_arg_names())."
    if not name:
        raise ExplorerError(f"invalid --build-arg {argument!r}: the name before '=' is empty", hint=hint)
    if any(character.isspace() for character in name):
        raise ExplorerError(f"invalid --build-arg {argument!r}: the name {name!r} contains whitespace", hint=hint)
    if "=" in name:
        raise ExplorerError(f"invalid --build-arg {argument!r}: the name {name!r} contains '='", hint=hint)


@dataclass(frozen=True)
class MakeRunNondeterministic:
    """Append a command that writes random bytes to the RUN on Dockerfile line `line`.

    The RUN's text changes, so it misses once; from then on every execution of it
    writes different bytes, which per-stage caching sees in a later `COPY --from`.
    """

    kind: ClassVar[str] = "nondeterministic-run"
    line: int

    def apply(self, workspace: Workspace, image_store: Path) -> None:
        lines = workspace.dockerfile.read_text().splitlines()
        if not 1 <= self.line <= len(lines):
            raise ExplorerError(
                f"{workspace.dockerfile.name} has {len(lines)} lines, so line {self.line} is not a RUN",
                hint="Pick the line of a RUN instruction from the decisions table.",
            )
        text = lines[self.line - 1].rstrip()
        if not text.upper().startswith("RUN ") or text.endswith("\\"):
            raise ExplorerError(
                f"line {self.line} of {workspace.dockerfile.name} is not a one-line RUN: {text!r}",
                hint="Pick a RUN instruction written on a single line.",
            )
        EditInstruction(self.line, text + NONDETERMINISTIC_SUFFIX).apply(workspace)

    def describe(self) -> str:
        return f"make the RUN on line {self.line} nondeterministic"


@dataclass(frozen=True)
class MoveBaseTag:
    """Point base image tag `reference` of the explorer's image store at a new image.

    The new image is busybox plus one file whose content is `version`, so its
    manifest digest, and with it every key seeded from it, changes.
    """

    kind: ClassVar[str] = "move-base-tag"
    reference: str
    version: int = 1

    def apply(self, workspace: Workspace, image_store: Path) -> None:
        store = LayoutStore(image_store)
        tag = str(parse_reference(self.reference))
        with tempfile.TemporaryDirectory(prefix="moved-tag-", dir=image_store.parent) as scratch:
            rootfs = busybox_rootfs(Path(scratch) / "rootfs")
            (rootfs / MOVED_TAG_FILE).write_text(f"{self.version}\n")
            temporary = f"moved-{self.version}"
            imported = import_rootfs(rootfs, f"oci:{image_store}:{temporary}")
        descriptor = store.find(temporary)
        if descriptor is None:
            raise ExplorerError(
                f"importing the moved image into {image_store} left no tag {temporary!r}",
                hint="Reset the explorer, which starts a new image store.",
            )
        store.tag(tag, descriptor)
        store.untag(temporary)
        logger.info("moved %s in %s to %s", tag, image_store, imported.manifest_digest)

    def describe(self) -> str:
        return f"move base tag {self.reference} to a new image"


@dataclass(frozen=True)
class ForgetCachedLayer:
    """Delete the cache entry of the instruction on Dockerfile line `line`, as if it expired.

    `key` is that instruction's cache key in the latest build; the explorer fills
    it in. A RUN forgotten this way executes again on the next build.
    """

    kind: ClassVar[str] = "forget-layer"
    line: int
    key: str | None = None

    def apply(self, workspace: Workspace, image_store: Path) -> None:
        if self.key is None or not LayoutStore(workspace.cache_dir).untag(self.key):
            raise ExplorerError(
                f"the layer cache has no entry for the instruction on line {self.line}",
                hint="Pick an instruction that hit or was pushed in the latest build.",
            )

    def describe(self) -> str:
        return f"forget the cached layer of line {self.line}"


CHANGE_KINDS: tuple[str, ...] = (
    EditContextFile.kind,
    ChangeBuildArg.kind,
    MoveBaseTag.kind,
    MakeRunNondeterministic.kind,
    ForgetCachedLayer.kind,
)
