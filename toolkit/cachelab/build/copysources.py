"""COPY and ADD sources: which files a source word names.

A source is a path relative to its root (the build context, a stage's saved
files, or an image root), cleaned like Go's `filepath.Clean` and never allowed
out of that root. Wildcards (`*`, `?`, `[...]`) match one path component each,
with Go's `filepath.Match`, as kaniko and Docker do. In the build context,
paths excluded by `.dockerignore` are skipped; a source that names an excluded
path, or a wildcard that matches nothing, is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from cachelab.build.errors import CopyError, CopySourceNotFound
from cachelab.build.rootpath import resolve_in_root
from cachelab.keys import gopath
from cachelab.keys.dockerignore import DockerIgnore


@dataclass(frozen=True)
class SourceRoot:
    """A directory COPY or ADD reads from, and how to name it in errors.

    `dockerignore` is set for the build context only.
    """

    path: str
    description: str
    dockerignore: DockerIgnore | None = None

    def excluded(self, rel: str) -> bool:
        return self.dockerignore is not None and bool(rel) and self.dockerignore.excludes(rel)


@dataclass(frozen=True)
class MatchedSource:
    """One file or directory a source word matched.

    `rel` is its root-relative path (used by `--parents`), `host_path` the path
    to read, after following a symlink the source word itself names.
    """

    rel: str
    host_path: str

    @property
    def is_dir(self) -> bool:
        return os.path.isdir(self.host_path)


def match_sources(root: SourceRoot, word: str, *, line: int | None) -> list[MatchedSource]:
    """Return the paths `word` names under `root`, sorted; raise if there are none."""
    cleaned = gopath.clean("/" + word).lstrip("/")
    if gopath.has_glob(cleaned):
        try:
            matches = sorted(_glob(root, cleaned))
        except gopath.BadPatternError:
            raise CopyError(
                f"invalid wildcard in COPY/ADD source {word!r}",
                line=line,
                hint="Check the brackets and escapes; the syntax is Go's filepath.Match.",
            ) from None
    else:
        matches = [cleaned] if os.path.lexists(resolve_in_root(root.path, cleaned)) or not cleaned else []
    matches = [rel for rel in matches if not root.excluded(rel)]
    if not matches:
        raise CopySourceNotFound(word, line=line, origin=root.description)
    return [MatchedSource(rel, resolve_in_root(root.path, rel)) for rel in matches]


def _glob(root: SourceRoot, pattern: str) -> Iterator[str]:
    components = pattern.split("/")

    def descend(prefix: str, index: int) -> Iterator[str]:
        if index == len(components):
            yield prefix
            return
        component = components[index]
        directory = resolve_in_root(root.path, prefix) if prefix else root.path
        if not gopath.has_glob(component):
            candidate = f"{prefix}/{component}" if prefix else component
            if os.path.lexists(resolve_in_root(root.path, candidate, follow_last=False)):
                yield from descend(candidate, index + 1)
            return
        try:
            names = sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for name in names:
            if gopath.match(component, name):
                yield from descend(f"{prefix}/{name}" if prefix else name, index + 1)

    yield from descend("", 0)


def walk_tree(top: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Yield (path relative to `top`, entry) for everything below `top`, sorted, pre-order."""

    def walk(directory: str, rel_dir: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        with os.scandir(directory) as scanner:
            entries = sorted(scanner, key=lambda item: item.name)
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            yield rel, entry
            if entry.is_dir(follow_symlinks=False):
                yield from walk(entry.path, rel)

    yield from walk(top, "")


def parents_path(word: str, rel: str) -> str:
    """Return the part of a matched path that `--parents` recreates under the destination.

    BuildKit keeps the whole source path, or only what follows a `/./` pivot in
    the source word (`COPY --parents src/./app/x /dst/` makes `/dst/app/x`).
    """
    if "/./" not in word:
        return rel
    pivot = gopath.clean("/" + word.split("/./")[0]).lstrip("/")
    if pivot and rel.startswith(pivot + "/"):
        return rel[len(pivot) + 1:]
    return rel
