"""Verdicts from few repeats: how often identical sides get `better` or `worse`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cachelab.stats import (
    BETTER,
    INCONCLUSIVE,
    WORSE,
    StatsError,
    compare_builds,
    difference_of_medians_interval,
    judge,
    judge_difference,
    min_samples_for_verdict,
    ratio_of_medians_interval,
)

TRIALS = 400
RESAMPLES = 1_000
# Lognormal sigma of one build's time, about 15% noise.
NOISE = 0.15
# A 95% interval misses in 5% of trials, and the extra 1% allows for simulation noise.
MAX_FALSE_VERDICT_RATE = 0.06


def verdict_rate(samples: int, new_factor: float, verdicts: tuple[str, ...], *, seed: int) -> float:
    """Return the share of trials judged one of `verdicts`, with `samples` lognormal times per side."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(TRIALS):
        old = rng.lognormal(0.0, NOISE, samples)
        new = new_factor * rng.lognormal(0.0, NOISE, samples)
        interval = ratio_of_medians_interval(old, new, resamples=RESAMPLES, seed=rng)
        hits += judge(interval, 1.1) in verdicts
    return hits / TRIALS


@pytest.mark.parametrize("samples", [2, 3, 4, 5, 10])
def test_identical_sides_rarely_differ(samples: int) -> None:
    rate = verdict_rate(samples, 1.0, (BETTER, WORSE), seed=samples)

    assert rate <= MAX_FALSE_VERDICT_RATE


@pytest.mark.parametrize("samples", [2, 3, 4])
def test_few_samples_are_inconclusive(samples: int) -> None:
    rate = verdict_rate(samples, 2.0, (INCONCLUSIVE,), seed=samples)

    assert rate == 1.0


def test_double_time_is_detected() -> None:
    rate = verdict_rate(5, 2.0, (WORSE,), seed=7)

    assert rate >= 0.95


def test_separated_pairs_keep_interval() -> None:
    old = pd.DataFrame(
        {
            "dockerfile_id": "app", "scenario": "s", "step": 1, "strategy": "lookahead",
            "outcome": "ok", "wall_s": [1.0, 1.1],
        }
    )
    new = old.assign(wall_s=[2.0, 2.1])
    row = compare_builds(old, new).iloc[0]

    assert row["ci_low"] > 1.0
    assert row["ratio"] == pytest.approx(2.05 / 1.05)
    assert row["verdict"] == INCONCLUSIVE


def test_difference_needs_samples_too() -> None:
    few = difference_of_medians_interval([0.0] * 4, [5.0] * 4)
    enough = difference_of_medians_interval([0.0] * 5, [5.0] * 5)

    assert few.low == 5.0
    assert judge_difference(few) == INCONCLUSIVE
    assert judge_difference(enough) == WORSE


def test_unequal_sides_need_minimum_each() -> None:
    interval = ratio_of_medians_interval([1.0, 1.01, 0.99, 1.02, 0.98, 1.0], [2.0] * 4)

    assert (interval.old_n, interval.new_n) == (6, 4)
    assert judge(interval) == INCONCLUSIVE


@pytest.mark.parametrize(("confidence", "expected"), [(0.8, 5), (0.95, 5), (0.99, 5), (0.999, 7)])
def test_minimum_grows_with_confidence(confidence: float, expected: int) -> None:
    assert min_samples_for_verdict(confidence) == expected


@pytest.mark.parametrize("confidence", [0.0, 1.0])
def test_minimum_rejects_confidence(confidence: float) -> None:
    with pytest.raises(StatsError, match="is not between 0 and 1"):
        min_samples_for_verdict(confidence)
