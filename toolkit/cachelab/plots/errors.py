"""Errors of the plotting layer."""

from __future__ import annotations

from cachelab.errors import CachelabError


class PlotInputError(CachelabError, ValueError):
    """A plotting function got a table without a needed column, or an unknown value."""
