"""Comparisons warn about builds whose cache operations failed, naming them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from cachelab.cli import main
from cachelab.record import Recording, concat, synthetic_build
from cachelab.stats import compare_builds, compare_strategies
from tests.fixtures.builder import ExampleBuilder
from tests.fixtures.registry import free_port

# three-stage writes 50 MB; 1 MB keeps the same shape and the test fast.
SMALL_THREE_STAGE = {"52428800": "1048576"}


def _builds(prefix: str, strategy: str = "per-stage", failures: dict[int, int] | None = None) -> pd.DataFrame:
    """Return 4 model builds; `failures` sets cache_failures of some of them by position."""
    recording = concat(
        Recording.from_events(synthetic_build(f"{prefix}-{i}", strategy=strategy, repeat=i), environment={})
        for i in range(4)
    )
    builds = recording.builds
    for position, count in (failures or {}).items():
        builds.loc[position, "cache_failures"] = count
    return builds


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


def test_compare_builds_names_failing_build(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        compare_builds(_builds("old"), _builds("new", failures={2: 5}), resamples=200)

    warnings = _warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith("new builds: 5 cache operations failed in 1 build: new-2 (5)")


def test_compare_builds_quiet_without_failures(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        compare_builds(_builds("old"), _builds("new"), resamples=200)

    assert _warnings(caplog) == []


def test_failed_build_with_error_not_named(caplog: pytest.LogCaptureFixture) -> None:
    # A build with outcome "error" is left out of the comparison already.
    new = _builds("new", failures={1: 2})
    new.loc[1, "outcome"] = "error"

    with caplog.at_level(logging.WARNING):
        compare_builds(_builds("old"), new, resamples=200)

    assert _warnings(caplog) == []


def test_compare_builds_without_column(caplog: pytest.LogCaptureFixture) -> None:
    old = _builds("old").drop(columns=["cache_failures"])

    with caplog.at_level(logging.WARNING):
        result = compare_builds(old, _builds("new", failures={0: 1}), resamples=200)

    assert len(result) == 1
    assert [text.split(":")[0] for text in _warnings(caplog)] == ["new builds"]


def test_compare_strategies_names_strategy(caplog: pytest.LogCaptureFixture) -> None:
    builds = pd.concat(
        [_builds("p", "per-stage"), _builds("l", "lookahead", failures={0: 1, 3: 2})], ignore_index=True
    )

    with caplog.at_level(logging.WARNING):
        compare_strategies(builds, "per-stage", "lookahead", by=("dockerfile_id", "scenario", "step"), resamples=200)

    warnings = _warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith("strategy lookahead builds: 3 cache operations failed in 2 builds: l-0 (1), l-3 (2)")


def test_regress_names_refused_cache_build(
    builder: Callable[..., ExampleBuilder], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    example = builder("three-stage", replace=SMALL_THREE_STAGE)
    working = Recording.from_events(example.build("per-stage").events)
    refused = Recording.from_events(example.build("per-stage", cache=f"127.0.0.1:{free_port()}/cache").events)
    working.save(tmp_path / "old")
    refused.save(tmp_path / "new")

    with caplog.at_level(logging.WARNING):
        assert main(["regress", str(tmp_path / "old"), str(tmp_path / "new")]) == 0

    failing_id = refused.builds["build_id"].iloc[0]
    named = [text for text in _warnings(caplog) if failing_id in text]
    assert refused.builds["cache_failures"].iloc[0] > 0
    assert len(named) == 1
    assert named[0].startswith("new builds: ")
    assert working.builds["build_id"].iloc[0] not in named[0]
