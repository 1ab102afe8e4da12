"""Errors of the ingest layer: other engines' output that cannot be read."""

from __future__ import annotations

from cachelab.errors import CachelabError


class IngestError(CachelabError):
    """An engine's trace, log or progress output cannot be turned into the tables."""


class EngineRunError(IngestError):
    """An engine that cachelab runs itself (buildah) failed or is not installed."""
