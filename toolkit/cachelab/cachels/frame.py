"""Cache listings as pandas DataFrames; the only module of this package that imports pandas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cachelab.cachels.listing import CacheRow, list_cache
from cachelab.cachels.stores import open_cache_store
from cachelab.keys.flags import DEFAULT_CACHE_TTL

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = tuple(field.name for field in fields(CacheRow))


def rows_frame(rows: Sequence[CacheRow]) -> pd.DataFrame:
    """Return one DataFrame row per cache row, with `created` as a UTC timestamp column."""
    import pandas as pd

    frame = pd.DataFrame([vars(row) for row in rows], columns=list(COLUMNS))
    frame["created"] = pd.to_datetime(frame["created"], utc=True)
    frame["layer_size"] = frame["layer_size"].astype("Int64")
    return frame


def cache_frame(
    location: str,
    *,
    ttl: timedelta = DEFAULT_CACHE_TTL,
    now: datetime | None = None,
    insecure: Sequence[str] = (),
) -> pd.DataFrame:
    """List the cache at `location` (`DIR`, `oci:DIR` or `HOST[:PORT]/REPO`) as a DataFrame.

    The default TTL is kaniko's `--cache-ttl` default, 336 hours.
    """
    store = open_cache_store(location, insecure=insecure)
    try:
        return rows_frame(list_cache(store, ttl=ttl, now=now))
    finally:
        store.close()
