"""Groups with no value to compare are named in a warning, and regress explains its verdicts."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from cachelab.cli import main
from cachelab.record import Recording, concat, synthetic_build
from cachelab.stats import compare_builds


def builds(strategy: str, wall_s: list[float | None], outcome: str | None = "ok") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dockerfile_id": "app", "scenario": "seed", "step": pd.array([1] * len(wall_s), dtype="Int64"),
            "strategy": strategy, "outcome": pd.array([outcome] * len(wall_s), dtype="string"),
            "wall_s": pd.array(wall_s, dtype="Float64"),
        }
    )


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


def test_group_without_wall_s_named(caplog: pytest.LogCaptureFixture) -> None:
    side = pd.concat([builds("per-stage", [1.0]), builds("lookahead", [None, None])], ignore_index=True)

    with caplog.at_level(logging.WARNING):
        result = compare_builds(side, side, resamples=100)

    assert result.set_index("strategy").loc["lookahead", "verdict"] == "incomparable"
    messages = warnings_of(caplog)
    assert len(messages) == 2
    assert messages[0].startswith("old builds of group (app, seed, 1, lookahead) have no wall_s to compare")
    assert "wall_s is NA in every build with outcome ok (2 of 2)" in messages[0]
    assert "whole-second stamps" in messages[0]


def test_group_without_ok_build_left_out(caplog: pytest.LogCaptureFixture) -> None:
    side = pd.concat([builds("per-stage", [1.0]), builds("lookahead", [None], outcome=None)], ignore_index=True)

    with caplog.at_level(logging.WARNING):
        result = compare_builds(side, side, resamples=100)

    assert result["strategy"].tolist() == ["per-stage"]
    messages = warnings_of(caplog)
    assert len(messages) == 2
    assert "none of its builds has outcome ok (NA: 1)" in messages[0]
    assert messages[0].endswith("so it is left out of the table")


def test_groups_with_values_quiet(caplog: pytest.LogCaptureFixture) -> None:
    side = builds("per-stage", [1.0, 1.1])

    with caplog.at_level(logging.WARNING):
        compare_builds(side, side, resamples=100)

    assert warnings_of(caplog) == []


def recording(prefix: str, count: int, scale: float) -> Recording:
    return concat(
        Recording.from_events(
            synthetic_build(f"{prefix}-{i}", step=1, repeat=i, scale=scale * (1.0 + i / 100)),
            environment={"host": "h"},
        )
        for i in range(count)
    )


def test_regress_explains_inconclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = recording("old", 2, 1.0).save(tmp_path / "old")
    new = recording("new", 2, 2.0).save(tmp_path / "new")

    code = main(["regress", str(old), str(new), "--resamples", "200"])
    lines = capsys.readouterr().out.splitlines()

    assert code == 0
    assert lines[1].endswith("inconclusive")
    assert "[" in lines[1]
    assert lines[2].startswith("verdict 'inconclusive': a side has fewer than 5 successful builds")


def test_regress_pooling_hint_names_ingest(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    side = recording("side", 2, 1.0)
    side.builds["step"] = pd.array([None, None], dtype="Int64")
    side.builds["cache_hits"] = pd.array([0, 3], dtype="Int64")
    path = side.save(tmp_path / "side")

    with caplog.at_level(logging.WARNING):
        main(["regress", str(path), str(path), "--resamples", "100"])

    pooled = [message for message in warnings_of(caplog) if "likely pooled" in message]
    assert len(pooled) == 2
    assert "`cachelab ingest ENGINE FILE... --scenario NAME --step N`" in pooled[0]
