"""Errors of the cache-key engine.

    KeyEngineError
    +-- SourceNotFoundError     a COPY/ADD source or bind-mount source is missing
    +-- HashInputError          a file could not be read while hashing
    +-- DockerignoreError       a `.dockerignore` pattern is invalid
    +-- BaseImageFormatError    a base manifest or config cannot be normalised
"""

from __future__ import annotations


class KeyEngineError(Exception):
    """Base of the cache-key engine's errors.

    `hint` is one sentence telling the user what to do next; the CLI prints it on
    its own line.
    """

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


# The hint of a missing RUN bind mount source, shared with the builder's error.
RUN_BIND_SOURCE_HINT = (
    "Check the mount's source= path, which is relative to the build context or the "
    "from= stage even when it starts with /, and that .dockerignore does not exclude it."
)


def missing_source_message(source: str, root: str, *, kind: str = "COPY/ADD source") -> str:
    """Return the one wording of a missing COPY/ADD or RUN bind mount source, shared with the builder's error."""
    return f"{kind} {source!r} not found in {root}"


class SourceNotFoundError(KeyEngineError):
    """A source named by an instruction matches nothing under its root.

    `str()` starts with `PATH:LINE: ` once the caller sets `path`, as the
    builder does, and with `line LINE: ` before that.
    """

    hint = (
        "Check the path relative to the build context or source stage, "
        "and that .dockerignore does not exclude it."
    )

    def __init__(
        self, source: str, *, root: str, line: int | None = None, instruction: str | None = None
    ) -> None:
        self.source = source
        self.root = root
        self.line = line
        self.instruction = instruction
        self.path: str | None = None
        if self._is_run():
            self.hint = RUN_BIND_SOURCE_HINT
        super().__init__(self._message())

    def _is_run(self) -> bool:
        # Only a RUN's bind mounts are hashed as sources besides COPY and ADD.
        words = (self.instruction or "").split(None, 1)
        return bool(words) and words[0].upper() == "RUN"

    def _message(self) -> str:
        kind = "RUN bind mount source" if self._is_run() else "COPY/ADD source"
        return missing_source_message(self.source, self.root, kind=kind)

    def __str__(self) -> str:
        message = self._message()
        if self.line is None:
            return message
        location = f"{self.path}:{self.line}" if self.path is not None else f"line {self.line}"
        return f"{location}: {message}"


class HashInputError(KeyEngineError):
    """Reading a file, link or directory for its cache-key hash failed."""

    hint = "Make sure the build context is readable and is not changing during the build."

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot hash {path}: {reason}")
        self.path = path


class DockerignoreError(KeyEngineError):
    """A `.dockerignore` file contains a pattern that cannot be compiled."""

    hint = "Fix or remove the pattern in the .dockerignore file."

    def __init__(self, path: str, pattern: str, reason: str) -> None:
        super().__init__(f"{path}: invalid pattern {pattern!r}: {reason}")
        self.path = path
        self.pattern = pattern


class BaseImageFormatError(KeyEngineError):
    """A base image manifest or config is not the JSON the seed computation expects."""

    hint = "Check that the reference names a single-platform image manifest, not an index."

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"invalid base image {what}: {reason}")
