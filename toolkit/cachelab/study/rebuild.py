"""Mutations of the inputs of a rebuild other than the context files.

- `MoveBaseTag` (`move-base-tag`): a base reference now names another image, as
  when an upstream maintainer pushes a new `busybox:latest`.
- `MakeRunNondeterministic` (`nondeterministic-run`): a RUN also writes random
  bytes, so its output differs every time it executes.
- `SetCacheTTL` (`cache-ttl`): later builds judge cache entries with another
  `--cache-ttl`; `seconds = 0` expires every entry created before the build.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from cachelab.study.errors import MutationError
from cachelab.study.workspace import Workspace

if TYPE_CHECKING:
    from cachelab.oci.reference import Reference

logger = logging.getLogger(__name__)

# The file MoveBaseTag adds to the moved image, so its layer differs from the old one.
BASE_TAG_MARKER = "etc/cachelab-base-tag"
PRIVATE_IMAGE_STORE = "images"
# Destinations of MoveBaseTag's new image.
MOVE_TARGETS = ("image-store", "registry")


@dataclass(frozen=True)
class MoveBaseTag:
    """Tag a new image under base reference `reference`, in the image store or its registry.

    The new image is the host's static busybox plus the file
    `/etc/cachelab-base-tag` containing `content`, so each `content` gives
    another manifest digest. With `where = "image-store"`, the run's first move
    copies the shared image store into a private one, so other runs keep the
    original image. With `where = "registry"`, the image is pushed to the
    reference's registry, so every run that reads that reference gets it.
    """

    op: ClassVar[str] = "move-base-tag"
    reference: str = "busybox"
    content: str = "moved\n"
    where: str = "image-store"

    def __post_init__(self) -> None:
        if self.where not in MOVE_TARGETS:
            raise MutationError(
                f"move-base-tag of {self.reference!r}: invalid where {self.where!r}",
                hint=f"Use one of: {', '.join(MOVE_TARGETS)}.",
            )

    def check(self, workspace: Workspace) -> Reference:
        """Validate the reference and the host's busybox without writing an image; return the reference."""
        from cachelab.oci.busybox import DEFAULT_BUSYBOX
        from cachelab.oci.errors import OCIError
        from cachelab.oci.reference import LayoutReference, parse_reference

        try:
            parsed = parse_reference(self.reference)
        except OCIError as exc:
            raise MutationError(f"move-base-tag: {exc}", hint=exc.hint) from None
        if isinstance(parsed, LayoutReference) or parsed.digest is not None:
            raise MutationError(
                f"cannot move {self.reference!r}: only a tagged registry reference names a movable tag",
                hint="Name the base as its FROM line does, e.g. busybox or busybox:1.36.",
            )
        if not Path(DEFAULT_BUSYBOX).is_file():
            raise MutationError(
                f"cannot build a new image for {self.reference}: {DEFAULT_BUSYBOX} is missing",
                hint="Install Debian's busybox-static.",
            )
        return parsed

    def apply(self, workspace: Workspace) -> None:
        from cachelab.oci.busybox import busybox_rootfs
        from cachelab.oci.importer import import_rootfs
        from cachelab.oci.layout import LayoutStore

        parsed = self.check(workspace)
        with tempfile.TemporaryDirectory(prefix="move-base-", dir=workspace.root) as scratch:
            rootfs = busybox_rootfs(Path(scratch) / "rootfs")
            marker = rootfs / BASE_TAG_MARKER
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(self.content)
            if self.where == "registry":
                result = import_rootfs(rootfs, str(parsed))
                logger.info("moved %s to %s in its registry", parsed, result.manifest_digest)
                return
            store = LayoutStore(_private_image_store(workspace))
            store.ensure()
            temporary = "cachelab-moved-base"
            result = import_rootfs(rootfs, f"oci:{store.path}:{temporary}")
        descriptor = store.find(temporary)
        assert descriptor is not None, "import_rootfs tags the image it writes"
        # The image store tags images by full reference, which a layout reference cannot spell.
        store.tag(str(parsed), descriptor)
        store.untag(temporary)
        logger.info("moved %s to %s in %s", parsed, result.manifest_digest, store.path)

    def describe(self) -> str:
        return f"move base tag {self.reference} in the {self.where}"


@dataclass(frozen=True)
class MakeRunNondeterministic:
    """Make the single-line RUN on Dockerfile line `line` also write 16 random bytes to `path`.

    The RUN's text changes once, at this step. From then on every execution of
    it writes other bytes into `path`, so its layer and anything copied from it
    differ. The bytes come from /dev/urandom because busybox's `date` has no
    nanoseconds.
    """

    op: ClassVar[str] = "nondeterministic-run"
    line: int
    path: str = "/.cachelab-run-time"

    def apply(self, workspace: Workspace) -> None:
        # mutations.py registers this class, so it is imported here, not at module level.
        from cachelab.study.mutations import EditInstruction

        lines = workspace.dockerfile.read_text().splitlines()
        if not 1 <= self.line <= len(lines):
            raise MutationError(
                f"{workspace.user_dockerfile} has {len(lines)} lines, so line {self.line} has no RUN",
                hint="Give the line number of a RUN instruction.",
            )
        text = lines[self.line - 1].rstrip()
        words = text.split(None, 1)
        if not words or words[0].upper() != "RUN" or text.endswith("\\"):
            raise MutationError(
                f"{workspace.user_dockerfile} line {self.line} is not a single-line RUN: {text!r}",
                hint="Name a RUN instruction that is written on one line.",
            )
        EditInstruction(self.line, f"{text} && head -c 16 /dev/urandom | od -A n -t x1 > {self.path}").apply(workspace)

    def describe(self) -> str:
        return f"make the RUN on line {self.line} nondeterministic"


@dataclass(frozen=True)
class SetCacheTTL:
    """Judge cache entries with `--cache-ttl` of `seconds` from now on; None restores the default."""

    op: ClassVar[str] = "cache-ttl"
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.seconds is not None and self.seconds < 0:
            raise MutationError(
                f"cache-ttl of {self.seconds} seconds is negative",
                hint="Give 0 or more seconds; 0 expires every entry created before the build.",
            )

    def apply(self, workspace: Workspace) -> None:
        workspace.cache_ttl = timedelta(seconds=self.seconds) if self.seconds is not None else None

    def describe(self) -> str:
        if self.seconds is None:
            return "default --cache-ttl"
        return f"--cache-ttl {self.seconds:g}s"


def _private_image_store(workspace: Workspace) -> Path:
    # A copy of the shared store keeps every other base of the run where it was.
    private = workspace.root / PRIVATE_IMAGE_STORE
    if workspace.image_store is not None and Path(workspace.image_store) == private:
        return private
    shared = Path(workspace.image_store) if workspace.image_store is not None else _default_image_store()
    if shared.is_dir():
        shutil.copytree(shared, private, symlinks=True)
    workspace.image_store = private
    return private


def _default_image_store() -> Path:
    from cachelab.build.stores import default_image_store

    return default_image_store()
