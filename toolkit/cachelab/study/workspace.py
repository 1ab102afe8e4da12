"""Build inputs and the private work copy a scenario mutates.

Every scenario run gets its own copy of the build context and Dockerfile, so
mutations never touch the user's files and each strategy starts from the same
bytes, modes and modification times.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cachelab.build.request import dockerfile_id_of
from cachelab.study.errors import MutationError, StudyError

logger = logging.getLogger(__name__)

DOCKERFILE_NAME = "Dockerfile"
EXAMPLE_CONTEXT = "context"


@dataclass(frozen=True)
class BuildInput:
    """A Dockerfile with its build context and the id it is recorded under."""

    dockerfile: Path
    context: Path
    dockerfile_id: str
    name: str


def resolve_input(path: str | Path, context: str | Path | None = None) -> BuildInput:
    """Return the Dockerfile and context that `path` names.

    `path` is a Dockerfile or an example directory that contains `Dockerfile` and
    `context/`. Without `context`, a Dockerfile's context is its own directory and
    an example's is its `context/` directory. Raises `StudyError` when a file is
    missing.
    """
    location = Path(path)
    if location.is_dir():
        dockerfile = location / DOCKERFILE_NAME
        default_context = location / EXAMPLE_CONTEXT
        name = location.resolve().name
        if not dockerfile.is_file():
            raise StudyError(
                f"directory {location} has no {DOCKERFILE_NAME}",
                hint="Pass a Dockerfile or an example directory with Dockerfile and context/.",
            )
        if context is None and not default_context.is_dir():
            raise StudyError(
                f"example directory {location} has no {EXAMPLE_CONTEXT}/ directory",
                hint="Pass the build context with --context.",
            )
    elif location.is_file():
        dockerfile = location
        default_context = location.parent
        name = location.resolve().parent.name if location.name == DOCKERFILE_NAME else location.stem
    else:
        raise StudyError(
            f"Dockerfile or example directory not found: {location}",
            hint="Pass an existing Dockerfile or a directory such as datasets/examples/two-stage.",
        )

    chosen_context = Path(context) if context is not None else default_context
    if not chosen_context.is_dir():
        raise StudyError(
            f"build context directory not found: {chosen_context}",
            hint="Pass an existing directory with --context.",
        )
    return BuildInput(
        dockerfile=dockerfile.resolve(),
        context=chosen_context.resolve(),
        dockerfile_id=dockerfile_id_of(location),
        name=name or "build",
    )


@dataclass
class Workspace:
    """A private copy of one build input, and the build settings mutations change.

    `cache_dir` contains the layer cache (an OCI layout store) of this scenario run.
    `image_store` is the local image store its builds read bases from (None: the
    builder's default); `cache_ttl` overrides the strategy's `--cache-ttl`.
    `source` is the user's build input that was copied, so errors can name the
    user's files instead of the copies.
    """

    root: Path
    context: Path
    dockerfile: Path
    cache_dir: Path
    build_args: dict[str, str] = field(default_factory=dict)
    targets: tuple[str, ...] = ()
    image_store: Path | None = None
    cache_ttl: timedelta | None = None
    source: BuildInput | None = None

    @classmethod
    def create(
        cls,
        source: BuildInput,
        root: Path,
        *,
        build_args: dict[str, str] | None = None,
        targets: tuple[str, ...] = (),
        image_store: str | Path | None = None,
        outline: bool = False,
    ) -> Workspace:
        """Copy `source` into `root` (created, must not exist) and return the workspace.

        Symbolic links are copied as links; file modes and modification times are kept.
        With `outline`, every context file except the Dockerfile is created empty,
        which is enough to check a scenario's mutations without copying file data.
        """
        root.mkdir(parents=True)
        context = root / EXAMPLE_CONTEXT
        if outline:
            _copy_outline(source.context, context)
        else:
            shutil.copytree(source.context, context, symlinks=True)
        dockerfile = _copy_dockerfile(source, root, context)
        cache_dir = root / "cache"
        cache_dir.mkdir()
        logger.debug("copied %s and %s into %s", source.dockerfile, source.context, root)
        return cls(
            root=root,
            context=context,
            dockerfile=dockerfile,
            cache_dir=cache_dir,
            build_args=dict(build_args or {}),
            targets=tuple(targets),
            image_store=Path(image_store) if image_store is not None else None,
            source=source,
        )

    @property
    def user_context(self) -> Path:
        """The user's build context this workspace copies (`context` without a source)."""
        return self.source.context if self.source is not None else self.context

    @property
    def user_dockerfile(self) -> Path:
        """The user's Dockerfile this workspace copies (`dockerfile` without a source)."""
        return self.source.dockerfile if self.source is not None else self.dockerfile

    def user_path(self, path: str | Path) -> Path:
        """Return the user's file that work-copy `path` is a copy of, or `path` itself outside the copy."""
        candidate = Path(path)
        if candidate == self.dockerfile:
            return self.user_dockerfile
        if candidate.is_relative_to(self.context):
            return self.user_context / candidate.relative_to(self.context)
        return candidate

    @property
    def cache_ref(self) -> str:
        """The cache location the builder takes: `cache_dir` as an absolute path.

        An absolute directory is one layout store for every key. The `oci:DIR`
        form would instead write one layout per key beside DIR, as `DIR:<key>`,
        which `clear_cache` would not remove.
        """
        return str(self.cache_dir.resolve())

    def context_path(self, relative: str, *, follow_links: bool = False) -> Path:
        """Return the path of `relative` inside the context, or raise `MutationError`.

        The path must be relative and stay inside the context after resolving `..`
        and the symbolic links of its parent directories. With `follow_links`, a
        link at the path itself must point inside the context too, for mutations
        that write through it. Checking this keeps a context link to a host file
        from letting a scenario change that file.
        """
        candidate = Path(relative)
        if candidate.is_absolute() or not relative.strip():
            raise MutationError(
                f"context path {relative!r} is not a relative path; the build context is {self.user_context}",
                hint="Name the file relative to the build context, e.g. src/app.txt.",
            )
        parts: list[str] = []
        for part in candidate.parts:
            if part == "..":
                if not parts:
                    raise self._outside(relative)
                parts.pop()
            elif part != ".":
                parts.append(part)
        if not parts:
            raise MutationError(
                f"context path {relative!r} names the build context {self.user_context} itself",
                hint="Name a file inside the build context.",
            )
        path = self.context.joinpath(*parts)
        root = self.context.resolve()
        if not path.parent.resolve().is_relative_to(root):
            raise self._outside(relative)
        if follow_links and not path.resolve().is_relative_to(root):
            raise self._outside(relative)
        return path

    def _outside(self, relative: str) -> MutationError:
        return MutationError(
            f"context path {relative!r} leaves the build context {self.user_context}",
            hint="Name a file inside the build context.",
        )

    def clear_cache(self) -> None:
        """Delete every layer and pointer in the cache store."""
        shutil.rmtree(self.cache_dir)
        self.cache_dir.mkdir()
        logger.info("cleared cache store %s", self.cache_dir)


def _copy_outline(source: Path, destination: Path) -> None:
    # Directories and symbolic links as in `copytree(symlinks=True)`; every other
    # entry becomes an empty regular file with the original's mode and times.
    shutil.copytree(source, destination, symlinks=True, copy_function=_create_empty_copy)


def _create_empty_copy(source: str, destination: str) -> None:
    Path(destination).touch()
    shutil.copystat(source, destination)


def _copy_dockerfile(source: BuildInput, root: Path, context: Path) -> Path:
    # A Dockerfile inside its context is already copied with it and stays there,
    # so COPY instructions and .dockerignore see the same tree as the original.
    try:
        inside = source.dockerfile.relative_to(source.context)
    except ValueError:
        inside = None
    if inside is not None:
        # An outline copy has an empty placeholder there, which this replaces.
        shutil.copy2(source.dockerfile, context / inside)
        return context / inside

    dockerfile = root / source.dockerfile.name
    shutil.copy2(source.dockerfile, dockerfile)
    # BuildKit reads `<Dockerfile name>.dockerignore` beside the Dockerfile first.
    ignore = source.dockerfile.with_name(source.dockerfile.name + ".dockerignore")
    if ignore.is_file():
        shutil.copy2(ignore, root / ignore.name)
    return dockerfile
