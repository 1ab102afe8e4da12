"""Errors of the statistics layer."""

from __future__ import annotations

from cachelab.errors import CachelabError


class StatsError(CachelabError):
    """Samples or comparison options that no statistic can be computed from."""
