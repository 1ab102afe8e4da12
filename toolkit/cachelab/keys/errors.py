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


class SourceNotFoundError(KeyEngineError):
    """A source named by an instruction matches nothing under its root."""

    hint = "Check the source path and the build context directory, or the `.dockerignore`."

    def __init__(
        self, source: str, *, root: str, line: int | None = None, instruction: str | None = None
    ) -> None:
        where = f" (line {line}: {instruction})" if line is not None and instruction else ""
        super().__init__(f"source {source!r} not found in {root}{where}")
        self.source = source
        self.root = root
        self.line = line


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
