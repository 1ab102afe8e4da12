"""Failed cache operations among a build's spans.

A build goes on when a cache operation fails, as kaniko's does: a failed lookup
is a miss and a failed push is skipped. The span of the operation marks the
failure: a `probe-cache` span with a non-empty `error` attribute, or a push span
with `failed` set to "true". The builder's command line warns from these spans,
so this module stays free of pandas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cachelab.events.types import SpanRecorded

# Span phases of the cache operations that can fail without failing the build.
CACHE_OPERATION_PHASES = ("probe-cache", "push-layer", "push-pointer")


def is_failed_operation(phase: str, attributes: Mapping[str, str]) -> bool:
    """Return whether a span of `phase` with `attributes` records a failed cache operation."""
    if phase not in CACHE_OPERATION_PHASES:
        return False
    return bool(attributes.get("error")) or attributes.get("failed") == "true"


def count_failed_operations(spans: Iterable[SpanRecorded]) -> int:
    """Return the number of `spans` that record a failed cache operation."""
    return sum(1 for span in spans if is_failed_operation(span.phase, span.attributes))
