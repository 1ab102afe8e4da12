"""Errors of the record layer: bad event streams and unreadable saved recordings."""

from __future__ import annotations

from cachelab.errors import CachelabError


class RecordError(CachelabError):
    """An event stream or a saved recording cannot be turned into the tables."""


class EventStreamError(RecordError):
    """The events of a build contradict each other or lack their `BuildStarted`."""


class SchemaVersionError(RecordError):
    """A saved recording has a schema version this cachelab cannot read or upgrade."""


class InvalidRecordingError(RecordError):
    """A saved recording breaks rules of the schema, such as unique keys or a vocabulary.

    `problems` lists one line per broken rule, each naming the file, the column
    and the first offending rows.
    """

    def __init__(self, message: str, problems: list[str], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems
