"""Count the cache lookups and pushes of a build that failed.

A build goes on when a cache operation fails, as kaniko's does: a failed lookup
is a miss and a failed push is skipped. Its `outcome` is then still "ok", so the
builds column `cache_failures` carries the count. A failed operation is a span of
a phase in `schema.CACHE_OPERATION_PHASES` whose attributes have a non-empty
`error` (a `probe-cache` span) or `failed` set to "true" (a push span).
"""

from __future__ import annotations

import json
import logging

import pandas as pd

from cachelab.events.failures import is_failed_operation
from cachelab.record import schema

logger = logging.getLogger(__name__)

# Builds listed by name in a summary line; the rest are counted.
LISTED_BUILDS = 5


def failures_from_spans(builds: pd.DataFrame, spans: pd.DataFrame) -> pd.Series:
    """Return `cache_failures` for each row of `builds`, counted from the spans table.

    This is the rule of `tables_from_events` applied to saved tables, for the
    upgrade from schema version 5. A finished build of
    `schema.CACHE_FAILURE_ENGINES` gets its count, 0 included. Other builds get
    the count when it is above 0, else NA. A cachelab build whose cache
    operation spans all lack attributes, as in recordings made before schema
    version 3, gets NA, and so does a build with a span whose attributes are not
    valid JSON.
    """
    operations = spans.loc[spans["phase"].isin(schema.CACHE_OPERATION_PHASES)]
    failed: dict[str, int] = {}
    unreadable: set[str] = set()
    for build_id, phase, text in zip(operations["build_id"], operations["phase"], operations["attributes"]):
        if pd.isna(text):
            continue
        try:
            attributes = json.loads(text)
        except ValueError:
            logger.warning(
                "invalid JSON in the attributes of a %s span of build %s, so its cache_failures is NA: %r",
                phase, build_id, text,
            )
            unreadable.add(build_id)
            continue
        if isinstance(attributes, dict) and is_failed_operation(phase, attributes):
            failed[build_id] = failed.get(build_id, 0) + 1

    with_attributes = set(operations.loc[operations["attributes"].notna(), "build_id"])
    without_attributes = set(operations["build_id"]) - with_attributes
    counts = builds["build_id"].map(lambda build_id: failed.get(build_id, 0)).astype("Int64")

    counting = builds["engine"].isin(schema.CACHE_FAILURE_ENGINES) & builds["outcome"].notna()
    # The model's spans carry no attributes, and it simulates no failure.
    attributes_lost = builds["build_id"].isin(without_attributes) & (builds["engine"] != "model")
    known = (counting & ~attributes_lost) | (counts > 0)
    known &= ~builds["build_id"].isin(unreadable)
    return counts.where(known.fillna(False).astype(bool))


def describe_failures(builds: pd.DataFrame) -> str | None:
    """Return one line naming the builds with failed cache operations, or None when there are none."""
    if "cache_failures" not in builds.columns:
        return None
    failing = builds.loc[builds["cache_failures"].fillna(0) > 0, ["build_id", "cache_failures"]]
    if failing.empty:
        return None
    total = int(failing["cache_failures"].sum())
    named = [f"{build_id} ({int(count)})" for build_id, count in failing.head(LISTED_BUILDS).itertuples(index=False)]
    more = len(failing) - LISTED_BUILDS
    if more > 0:
        named.append(f"and {more} more")
    operations = "operation" if total == 1 else "operations"
    build_word = "build" if len(failing) == 1 else "builds"
    return f"{total} cache {operations} failed in {len(failing)} {build_word}: {', '.join(named)}"
