"""Groups whose old median is 0, which have no ratio and are judged on the difference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cachelab.cli import main
from cachelab.record import Recording, concat, synthetic_build
from cachelab.stats import (
    StatsError,
    compare_recordings,
    difference_of_medians_interval,
    judge_difference,
)


def warm_builds(prefix: str, values: list[int], column: str = "bytes_downloaded") -> Recording:
    """Return warm lookahead builds (step 1) whose `column` takes `values`, one build each."""
    recordings = [
        Recording.from_events(
            synthetic_build(f"{prefix}-{i}", step=1, repeat=i, scale=1.0 + i / 100),
            environment={"host": "h"},
        )
        for i in range(len(values))
    ]
    recording = concat(recordings)
    recording.builds[column] = pd.array(values, dtype="Int64")
    return recording


@pytest.mark.parametrize(
    ("old", "new", "verdict"),
    [
        ([0] * 5, [0] * 5, "same"),
        ([0] * 5, [5_000_000] * 5, "worse"),
        ([5_000_000] * 5, [0] * 5, "better"),
    ],
)
def test_zero_median_verdicts(old: list[int], new: list[int], verdict: str) -> None:
    row = compare_recordings(
        warm_builds("old", old), warm_builds("new", new), metric="bytes_downloaded", step=1
    ).iloc[0]

    assert row["verdict"] == verdict


def test_zero_to_positive_uses_difference() -> None:
    row = compare_recordings(
        warm_builds("old", [0, 0, 0]), warm_builds("new", [5_000_000] * 3), metric="bytes_downloaded"
    ).iloc[0]

    assert row["statistic"] == "difference"
    assert row["ratio"] is pd.NA
    assert row["difference"] == 5_000_000
    assert row["ci_low"] == 5_000_000
    assert row["ci_high"] == 5_000_000


def test_positive_old_median_keeps_ratio() -> None:
    row = compare_recordings(
        warm_builds("old", [100] * 5), warm_builds("new", [300] * 5), metric="bytes_downloaded"
    ).iloc[0]

    assert row["statistic"] == "ratio"
    assert row["ratio"] == 3.0
    assert row["difference"] == 200
    assert row["verdict"] == "worse"


def test_cache_misses_zero_to_two() -> None:
    row = compare_recordings(
        warm_builds("old", [0] * 5, "cache_misses"),
        warm_builds("new", [2] * 5, "cache_misses"),
        metric="cache_misses",
        step=1,
    ).iloc[0]

    assert row["verdict"] == "worse"
    assert row["statistic"] == "difference"


def test_overlapping_difference_is_same() -> None:
    interval = difference_of_medians_interval([0, 0, 0, 10, 10], [0, 0, 10, 10, 10], seed=3)

    assert interval.low <= 0 <= interval.high
    assert judge_difference(interval) == "same"


def test_difference_interval_negative() -> None:
    interval = difference_of_medians_interval([7.0] * 5, [2.0] * 5)

    assert interval.difference == -5.0
    assert judge_difference(interval) == "better"


def test_difference_interval_rejects_empty() -> None:
    with pytest.raises(StatsError, match="old has 0 samples"):
        difference_of_medians_interval(np.empty(0), [1.0])


def test_regress_cli_zero_to_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = warm_builds("old", [0] * 5).save(tmp_path / "old")
    new = warm_builds("new", [5_000_000] * 5).save(tmp_path / "new")

    code = main(["regress", str(old), str(new), "--step", "1", "--metric", "bytes_downloaded"])
    output = capsys.readouterr().out

    assert code == 0
    assert output.splitlines()[1].endswith("worse")
    assert "incomparable" not in output
    assert "no ratio" in output


def test_regress_cli_zero_to_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = warm_builds("old", [0] * 5).save(tmp_path / "old")
    new = warm_builds("new", [0] * 5).save(tmp_path / "new")

    code = main(["regress", str(old), str(new), "--step", "1", "--metric", "bytes_downloaded"])
    lines = capsys.readouterr().out.splitlines()

    assert code == 0
    assert lines[1].endswith("same")



@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_regress_rejects_resamples(value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["regress", str(tmp_path), str(tmp_path), "--resamples", value])

    err = capsys.readouterr().err
    assert raised.value.code == 2
    assert f"argument --resamples: invalid value {value!r}: expected a whole number of at least 1" in err
    assert "resamples=" not in err
