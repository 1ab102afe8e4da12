"""Errors of the cache listing and pruning."""

from __future__ import annotations

from cachelab.errors import CachelabError


class CacheStoreError(CachelabError):
    """A cache location that cannot be listed: missing, not a cache, or an invalid option."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or "Pass a layout store DIR, oci:DIR or a registry repository HOST[:PORT]/REPO.")
