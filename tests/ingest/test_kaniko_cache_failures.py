"""Failed cache lookups and pushes in kaniko logs: counted where the log shows them, else NA."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cachelab.ingest.kaniko import ingest_kaniko_logs, ingest_kaniko_traces
from cachelab.ingest.kaniko_log import run_from_log_lines

DATA = Path(__file__).parent / "data"
DEBUG_LOG = DATA / "kaniko-cache-failures.debug.log"
COLOR_LOG = DATA / "kaniko-classic-cold.color.log"
KEY = "5" * 64
REPOSITORY = "registry.test/cache/constructed"


def _lines(*, keep_debug: bool = True, keep_warning: bool = True) -> list[str]:
    lines = DEBUG_LOG.read_text().splitlines()
    if not keep_debug:
        lines = [line for line in lines if "level=debug" not in line]
    if not keep_warning:
        lines = [line for line in lines if "level=warning" not in line]
    return lines


def _one_lookup(error: str, *, message: str = "Failed to retrieve layer") -> list[str]:
    """Return the debug log lines of a single-stage build whose only cache lookup ended with `error`."""
    escaped = error.replace('"', '\\"')
    return [
        'time="2026-11-02T11:00:00.010Z" level=info msg="Building stage \'registry.test/busybox:1\' [idx: \'0\', base-idx: \'-1\']"',
        f'time="2026-11-02T11:00:00.020Z" level=info msg="Checking for cached layer {REPOSITORY}:{KEY}..."',
        f'time="2026-11-02T11:00:00.030Z" level=debug msg="{message}: {escaped}"',
        'time="2026-11-02T11:00:00.040Z" level=info msg="No cached layer found for cmd RUN true"',
        'time="2026-11-02T11:00:00.050Z" level=info msg="RUN true"',
        f'time="2026-11-02T11:00:00.060Z" level=info msg="Pushing layer {REPOSITORY}:{KEY} to cache now"',
        'time="2026-11-02T11:00:00.070Z" level=info msg="Skipping push to container registry due to --no-push flag"',
    ]


def test_debug_log_counts_lookups_and_push_warning() -> None:
    build = ingest_kaniko_logs([DEBUG_LOG]).builds.iloc[0]

    # A refused connection and a 503 failed; the MANIFEST_UNKNOWN lookup was a plain miss.
    assert build["cache_failures"] == 3
    assert build["cache_push_errors"] == 1
    assert build["cache_misses"] == 3
    assert build["outcome"] == "ok"


def test_debug_log_without_warning_is_exact() -> None:
    run = run_from_log_lines(_lines(keep_warning=False), build_id="b")

    assert run.cache_failures == 2
    assert run.cache_push_errors == 0


def test_info_log_cannot_tell_lookups() -> None:
    run = run_from_log_lines(_lines(keep_debug=False, keep_warning=False), build_id="b")

    assert run.cache_failures is None
    assert run.cache_push_errors == 0


def test_info_log_push_warning_is_lower_bound() -> None:
    build = ingest_kaniko_logs([COLOR_LOG]).builds.iloc[0]

    assert build["cache_failures"] == 1
    assert build["cache_push_errors"] == 1


@pytest.mark.parametrize("error", [
    f"GET https://registry.test/v2/cache/constructed/manifests/{KEY}: MANIFEST_UNKNOWN: manifest unknown; map[Tag:{KEY}]",
    "GET https://registry.test/v2/cache/constructed/manifests/x: NAME_UNKNOWN: repository name not known to registry",
    "GET https://registry.test/v2/cache/constructed/manifests/x: unexpected status code 404 Not Found",
    f"cache entry expired: {REPOSITORY}:{KEY}",
    f"locating cache image: constructing layout path from /cache:{KEY}: stat /cache:{KEY}/index.json: no such file or directory",
])
def test_plain_miss_not_counted(error: str) -> None:
    run = run_from_log_lines(_one_lookup(error), build_id="b")

    assert run.cache_failures == 0


@pytest.mark.parametrize("error", [
    'Get "https://registry.test/v2/": dial tcp 192.0.2.7:443: connect: connection refused',
    "GET https://registry.test/v2/cache/constructed/manifests/x: UNAUTHORIZED: authentication required",
    "GET https://registry.test/v2/cache/constructed/manifests/x: unexpected status code 502 Bad Gateway",
    "retrieving config file for registry.test/cache/constructed:x: context deadline exceeded",
    "getting cache destination: cache repo can't be deduced",
])
def test_failed_lookup_counted(error: str) -> None:
    run = run_from_log_lines(_one_lookup(error), build_id="b")

    assert run.cache_failures == 1


def test_failed_pointer_lookup_counted() -> None:
    lines = _one_lookup("dial tcp 192.0.2.7:443: i/o timeout", message="Failed to retrieve pointer")

    assert run_from_log_lines(lines, build_id="b").cache_failures == 1


def test_trace_takes_failures_from_log() -> None:
    trace = DATA / "kaniko-classic-cold.otlp.json"

    alone = ingest_kaniko_traces([trace]).builds.iloc[0]
    paired = ingest_kaniko_traces([trace], logs=[COLOR_LOG]).builds.iloc[0]

    assert pd.isna(alone["cache_failures"])
    assert pd.isna(alone["cache_push_errors"])
    assert paired["cache_failures"] == 1
    assert paired["cache_push_errors"] == 1
