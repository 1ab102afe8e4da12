"""The `cachelab compare` report gives the true reason when it shows no strategy ratio."""

from __future__ import annotations

import io

import pytest

from cachelab.record import Recording, concat, synthetic_build
from cachelab.study.compare import write_report


def _last_line(strategies: list[str]) -> str:
    builds = [
        Recording.from_events(synthetic_build(f"{strategy}-{repeat}", strategy=strategy, repeat=repeat, step=1),
                              environment={})
        for strategy in strategies
        for repeat in range(2)
    ]
    report = io.StringIO()
    write_report(concat(builds), report)
    return report.getvalue().splitlines()[-1]


@pytest.mark.parametrize("strategy", ["per-stage", "lookahead"])
def test_one_strategy(strategy: str) -> None:
    assert _last_line([strategy]) == f"no ratio: only one strategy ran ({strategy}), and a ratio needs two"


def test_baseline_missing() -> None:
    assert _last_line(["lookahead", "no-cache"]) == (
        "no ratio: ratios are relative to strategy per-stage, which was not run"
    )
