"""Warnings of the Dockerfile layer: logged once per process, or collected inside a scope.

A build plans a Dockerfile more than once, so outside a scope each warning is
logged once per process. A caller that reads many files, such as a corpus
study, wraps each file in `collect_warnings` and decides itself which of the
collected warnings to log and which only to count.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

# Kinds of warning. A FROM word uses a platform ARG (TARGETOS, ...) that kaniko leaves unset.
UNSET_PLATFORM_ARG = "unset-platform-arg"
# A `--from` names no stage, so BuildKit and kaniko read it as an image on Docker Hub.
IMAGE_NOT_STAGE = "image-not-stage"
# A FROM word is the name of a later stage or of its own stage, so BuildKit and
# kaniko read it as an image on Docker Hub.
FROM_LATER_STAGE = "from-later-stage"


@dataclass(frozen=True, slots=True)
class DockerfileWarning:
    """One warning: its kind, the name of the logger it belongs to, and its message format and arguments.

    The arguments are plain strings and numbers, so a worker process can send
    a warning to its parent, and the parent's `log` writes the same record as
    the layer would have.
    """

    kind: str
    logger: str
    format: str
    args: tuple[object, ...]

    def message(self) -> str:
        return self.format % self.args

    def log(self) -> None:
        logging.getLogger(self.logger).warning(self.format, *self.args)


@dataclass(slots=True)
class CollectedWarnings:
    """The warnings raised inside one `collect_warnings` scope, in order, each key once."""

    found: list[DockerfileWarning] = field(default_factory=list)
    keys: set[Hashable] = field(default_factory=set)


_scope: contextvars.ContextVar[CollectedWarnings | None] = contextvars.ContextVar(
    "dockerfile_warnings", default=None,
)
# Keys of the warnings already logged outside any scope in this process.
_logged_keys: set[Hashable] = set()


@contextlib.contextmanager
def collect_warnings() -> Iterator[CollectedWarnings]:
    """Collect the Dockerfile layer's warnings raised inside, instead of logging them."""
    scope = CollectedWarnings()
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def warn(warning: DockerfileWarning, key: Hashable) -> None:
    """Log `warning` once per process, or add it to the innermost `collect_warnings` scope once per scope.

    `key` identifies the fact warned about within its kind (for example the
    path, line and ARG name), so planning the same file again does not repeat it.
    """
    key = (warning.kind, key)
    scope = _scope.get()
    if scope is None:
        if key in _logged_keys:
            return
        _logged_keys.add(key)
        warning.log()
        return
    if key in scope.keys:
        return
    scope.keys.add(key)
    scope.found.append(warning)
