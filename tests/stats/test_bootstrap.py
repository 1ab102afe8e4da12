"""Medians, IQR and the bootstrap interval of a ratio of medians on seeded samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cachelab.stats import StatsError, bootstrap, iqr, median, ratio_of_medians_interval, summarize


def lognormal(rng: np.random.Generator, center: float, size: int = 40) -> np.ndarray:
    return rng.lognormal(np.log(center), 0.05, size)


def test_median_and_iqr_ignore_na() -> None:
    values = pd.array([1.0, 2.0, None, 3.0, 4.0], dtype="Float64")

    assert median(values) == 2.5
    assert iqr(values) == pytest.approx(1.5)


def test_summarize_values() -> None:
    summary = summarize([4.0, 1.0, 3.0, 2.0, float("nan")])

    assert summary.n == 4
    assert summary.median == 2.5
    assert summary.q1 == 1.75
    assert summary.q3 == 3.25
    assert summary.min == 1.0
    assert summary.max == 4.0
    assert summary.iqr == 1.5


def test_summarize_empty_is_nan() -> None:
    summary = summarize([])

    assert summary.n == 0
    assert np.isnan(summary.median)


def test_interval_covers_known_ratio() -> None:
    rng = np.random.default_rng(20261204)
    covered = 0
    trials = 40
    for _ in range(trials):
        old = lognormal(rng, 10.0)
        new = lognormal(rng, 12.0)
        interval = ratio_of_medians_interval(old, new, resamples=2000, seed=rng)
        covered += interval.low <= 1.2 <= interval.high

    # A 95% interval should cover the true ratio in about 38 of 40 trials, so
    # 32 is a loose lower bound that still fails for a badly biased interval.
    assert covered >= 32


def test_interval_contains_point_ratio() -> None:
    rng = np.random.default_rng(3)
    old, new = lognormal(rng, 10.0), lognormal(rng, 15.0)
    interval = ratio_of_medians_interval(old, new, seed=1)

    assert interval.ratio == pytest.approx(np.median(new) / np.median(old))
    assert interval.low < interval.ratio < interval.high
    assert interval.excludes(1.0)
    assert interval.confidence == 0.95


def test_interval_of_equal_groups_includes_one() -> None:
    rng = np.random.default_rng(4)
    interval = ratio_of_medians_interval(lognormal(rng, 10.0), lognormal(rng, 10.0), seed=2)

    assert not interval.excludes(1.0)


def test_same_seed_same_interval() -> None:
    rng = np.random.default_rng(5)
    old, new = lognormal(rng, 10.0), lognormal(rng, 11.0)

    first = ratio_of_medians_interval(old, new, seed=7)
    second = ratio_of_medians_interval(old, new, seed=7)
    other = ratio_of_medians_interval(old, new, seed=8)

    assert first == second
    assert first != other


def test_batching_does_not_change_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(6)
    old, new = lognormal(rng, 10.0), lognormal(rng, 11.0)
    whole = ratio_of_medians_interval(old, new, resamples=500, seed=9)

    monkeypatch.setattr(bootstrap, "MAX_VALUES_PER_BATCH", 3 * old.size)
    batched = ratio_of_medians_interval(old, new, resamples=500, seed=9)

    assert batched == whole


def test_wider_confidence_gives_wider_interval() -> None:
    rng = np.random.default_rng(7)
    old, new = lognormal(rng, 10.0), lognormal(rng, 11.0)
    narrow = ratio_of_medians_interval(old, new, confidence=0.5, seed=1)
    wide = ratio_of_medians_interval(old, new, confidence=0.99, seed=1)

    assert wide.low < narrow.low
    assert wide.high > narrow.high


@pytest.mark.parametrize(
    "old, new, options, message",
    [
        ([], [1.0], {}, "old has 0 samples"),
        ([0.0, 0.0], [1.0], {}, "old median is 0.0"),
        ([1.0], [1.0], {"confidence": 1.0}, "confidence 1.0 is not between 0 and 1"),
        ([1.0], [1.0], {"resamples": 0}, "resamples is 0"),
    ],
)
def test_invalid_inputs_raise(
    old: list[float], new: list[float], options: dict[str, float], message: str
) -> None:
    with pytest.raises(StatsError, match=message):
        ratio_of_medians_interval(old, new, **options)
