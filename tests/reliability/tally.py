"""Counts of what the reliability tests did, printed at the end of the pytest run."""

from __future__ import annotations

from collections import Counter

# Keys are plain descriptions, e.g. "faults injected: reset"; values are counts.
TALLY: Counter[str] = Counter()
