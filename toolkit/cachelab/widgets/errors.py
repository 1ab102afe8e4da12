"""Errors of the explorer: an unknown example, strategy or change."""

from __future__ import annotations

from cachelab.errors import CachelabError


class ExplorerError(CachelabError):
    """The explorer cannot apply a selection or change; `hint` says what to pick instead."""
