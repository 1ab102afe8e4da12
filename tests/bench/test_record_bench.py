"""Benchmarks of turning events into tables and of the bootstrap comparison."""

from __future__ import annotations

import numpy as np
import pytest

from cachelab.record import Recording, SyntheticStage, synthetic_build
from cachelab.stats import ratio_of_medians_interval

# 50 builds of 10 stages with 10 instructions each: about 31,000 events.
STAGES = tuple(SyntheticStage(instructions=10, hits=index % 3) for index in range(10))


@pytest.fixture(scope="module")
def events() -> list[object]:
    stream: list[object] = []
    for build in range(50):
        stream.extend(synthetic_build(f"build-{build}", stages=STAGES))
    return stream


def test_tables_from_events(benchmark, events: list[object]) -> None:
    recording = benchmark(Recording.from_events, events, environment={})

    assert len(recording.builds) == 50
    assert len(recording.instructions) == 50 * 100


# 3,000 builds of 2 stages with 2 and 3 instructions, about 123,000 events. A corpus
# study records many such small model builds, so the work done once per build counts.
SMALL_STAGES = (SyntheticStage(instructions=2), SyntheticStage(instructions=3, hits=1))


@pytest.fixture(scope="module")
def small_build_events() -> list[object]:
    stream: list[object] = []
    for build in range(3_000):
        stream.extend(synthetic_build(f"build-{build}", stages=SMALL_STAGES))
    return stream


def test_tables_from_many_small_builds(benchmark, small_build_events: list[object]) -> None:
    recording = benchmark(Recording.from_events, small_build_events, environment={})

    assert len(recording.builds) == 3_000
    assert len(recording.instructions) == 3_000 * 5
    assert recording.instructions["origin_stage_index"].notna().all()


def test_bootstrap_ratio_interval(benchmark) -> None:
    rng = np.random.default_rng(0)
    old = rng.lognormal(np.log(10.0), 0.05, 30)
    new = rng.lognormal(np.log(11.0), 0.05, 30)

    interval = benchmark(ratio_of_medians_interval, old, new, resamples=10_000, seed=1)

    assert interval.low < interval.ratio < interval.high
