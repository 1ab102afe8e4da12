"""kaniko's BENCHMARK_FILE (versions up to v1.28.2) as one build.

With `BENCHMARK_FILE=<path>` kaniko up to v1.28.2 writes, after the build and
the push, one JSON object that maps each timer category to integer nanoseconds,
summed over every start and stop of that category in all stages. Parallel cache
pushes are summed too, so a category can exceed the wall time. Up to v1.28.1
each distinct command text has its own `Command: <text>` category; v1.28.2 has
one `Command` category. v1.28.3 removed the file in favour of traces.

The file has no stages, instructions or start time, so it becomes a builds row
only, with one `kaniko_<category>_s` column per category in seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from cachelab.ingest.errors import IngestError
from cachelab.ingest.kaniko_run import KanikoRun

logger = logging.getLogger(__name__)

TOTAL_BUILD_TIME = "Total Build Time"


@dataclass
class BenchmarkRun:
    """A build read from a benchmark file and its per-category seconds by column name."""

    run: KanikoRun
    columns: dict[str, float] = field(default_factory=dict)


def read_benchmark_file(path: str | Path, *, build_id: str | None = None) -> BenchmarkRun:
    """Return the build a BENCHMARK_FILE describes."""
    path = Path(path)
    data = path.read_bytes()
    try:
        timers = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IngestError(
            f"{path}: not a kaniko BENCHMARK_FILE: {exc}",
            hint="Pass the JSON file kaniko up to v1.28.2 writes to BENCHMARK_FILE.",
        ) from None
    if not isinstance(timers, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in timers.values()
    ):
        raise IngestError(
            f"{path}: a BENCHMARK_FILE maps timer names to integer nanoseconds",
            hint="Pass the JSON file kaniko up to v1.28.2 writes to BENCHMARK_FILE.",
        )

    run = KanikoRun(
        build_id=build_id or "kaniko-benchmark-" + hashlib.sha256(data).hexdigest()[:16],
        started_at=None,
        engine_version="<=v1.28.2",
        cache_enabled=None,
    )
    if TOTAL_BUILD_TIME in timers:
        # Total Build Time covers the build without the final push, as kaniko timed it.
        run.wall_s = timers[TOTAL_BUILD_TIME] / 1e9
    columns: dict[str, float] = {}
    for category, nanoseconds in sorted(timers.items()):
        columns[_unique(category_column(category), columns)] = nanoseconds / 1e9
    logger.info("%s: %d timer categories", path, len(columns))
    return BenchmarkRun(run, columns)


def category_column(category: str) -> str:
    """Return the builds column of a timer category, e.g. `kaniko_fs_unpacking_s`."""
    slug = re.sub(r"[^0-9a-z]+", "_", category.lower()).strip("_")
    return f"kaniko_{slug}_s"


def _unique(name: str, existing: dict[str, float]) -> str:
    # Two command texts can differ only in punctuation and give the same slug.
    candidate, number = name, 2
    while candidate in existing:
        candidate, number = f"{name.removesuffix('_s')}_{number}_s", number + 1
    return candidate
