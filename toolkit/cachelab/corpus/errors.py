"""Errors of the corpus layer."""

from __future__ import annotations


class CorpusError(Exception):
    """A corpus manifest or store could not be read or written.

    `hint` is one sentence telling the user what to do next.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
