"""Measured replay: runnable twins of real Dockerfiles built by the real builder.

`TwinWriter` writes a twin with the same stage graph and instruction sequence,
`TwinBaseStore` creates its scaled-down base images, and `Replayer` builds each
twin cold and warm under per-stage and lookahead, keeping the builder's events.
"""

from __future__ import annotations

from cachelab.replay.bases import TwinBaseStore
from cachelab.replay.run import (
    Replayer,
    ReplayResult,
    ReplaySettings,
    multistage_ids,
    replay_entries,
    sample_ids,
)
from cachelab.replay.twin import Twin, TwinWriter, twin_reference

__all__ = [
    "ReplayResult",
    "ReplaySettings",
    "Replayer",
    "Twin",
    "TwinBaseStore",
    "TwinWriter",
    "multistage_ids",
    "replay_entries",
    "sample_ids",
    "twin_reference",
]
