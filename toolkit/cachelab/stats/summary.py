"""Robust summaries of repeated timings: median and interquartile range."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SampleSummary:
    """Count, median, quartiles and range of one group of repeated measurements."""

    n: int
    median: float
    q1: float
    q3: float
    min: float
    max: float

    @property
    def iqr(self) -> float:
        """Interquartile range, `q3 - q1`."""
        return self.q3 - self.q1


def as_samples(values: Iterable[float]) -> np.ndarray:
    """Return `values` as a float array without NaN (pandas NA included)."""
    if not isinstance(values, (np.ndarray, pd.Series, pd.api.extensions.ExtensionArray)):
        values = list(values)
    array = pd.array(values, dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
    return array[~np.isnan(array)]


def median(values: Iterable[float]) -> float:
    """Return the median of `values` ignoring NaN, or NaN when none are left."""
    samples = as_samples(values)
    return float(np.median(samples)) if samples.size else float("nan")


def iqr(values: Iterable[float]) -> float:
    """Return the interquartile range (linear interpolation), ignoring NaN."""
    samples = as_samples(values)
    if not samples.size:
        return float("nan")
    q1, q3 = np.quantile(samples, [0.25, 0.75])
    return float(q3 - q1)


def summarize(values: Iterable[float]) -> SampleSummary:
    """Return count, median, quartiles, min and max of `values`, ignoring NaN."""
    samples = as_samples(values)
    if not samples.size:
        nan = float("nan")
        return SampleSummary(n=0, median=nan, q1=nan, q3=nan, min=nan, max=nan)
    q1, mid, q3 = np.quantile(samples, [0.25, 0.5, 0.75])
    return SampleSummary(
        n=int(samples.size),
        median=float(mid),
        q1=float(q1),
        q3=float(q3),
        min=float(samples.min()),
        max=float(samples.max()),
    )
