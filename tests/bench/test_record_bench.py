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


def test_bootstrap_ratio_interval(benchmark) -> None:
    rng = np.random.default_rng(0)
    old = rng.lognormal(np.log(10.0), 0.05, 30)
    new = rng.lognormal(np.log(11.0), 0.05, 30)

    interval = benchmark(ratio_of_medians_interval, old, new, resamples=10_000, seed=1)

    assert interval.low < interval.ratio < interval.high
