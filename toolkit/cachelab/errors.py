"""Errors shared by the layers above the OCI and Dockerfile layers."""

from __future__ import annotations


class CachelabError(Exception):
    """Base of cachelab's own errors outside the per-layer families.

    `hint`, when set, is one sentence telling the user what to do next; the CLI
    prints it on its own line.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
