"""Measured replay numbers beside the model's: per-file directions and headline rows."""

from __future__ import annotations

import pandas as pd
import pytest

from cachelab.corpus.measured import measured_headline, per_file_report, with_directions
from cachelab.corpus.study_report import savings_direction, text_report


def warm_row(mode: str, dockerfile_id: str, strategy: str, wall_s: float, built: int, downloaded: int):
    return {
        "mode": mode, "dockerfile_id": dockerfile_id, "strategy": strategy,
        "engine": "model" if mode == "model" else "cachelab", "wall_s": wall_s,
        "bytes_downloaded": downloaded, "bytes_unpacked": downloaded, "stages_total": 3,
        "stages_built": built, "stages_eliminated": 3 - built, "saved_fraction": None,
    }


@pytest.fixture
def summary() -> pd.DataFrame:
    # "agrees": lookahead saves in the model and in the replay.
    # "disagrees": the model saves time, but the replayed lookahead rebuild was slower.
    rows = [
        warm_row("model", "agrees", "per-stage", 10.0, 3, 100),
        warm_row("model", "agrees", "lookahead", 2.0, 1, 20),
        warm_row("model", "disagrees", "per-stage", 10.0, 3, 100),
        warm_row("model", "disagrees", "lookahead", 5.0, 2, 50),
        warm_row("measured", "agrees", "per-stage", 1.0, 3, 10),
        warm_row("measured", "agrees", "lookahead", 0.25, 1, 2),
        warm_row("measured", "disagrees", "per-stage", 1.0, 3, 10),
        warm_row("measured", "disagrees", "lookahead", 1.5, 2, 5),
    ]
    frame = pd.DataFrame(rows)
    baseline = frame[frame["strategy"] == "per-stage"].set_index(["mode", "dockerfile_id"])["wall_s"]
    keys = list(zip(frame["mode"], frame["dockerfile_id"], strict=True))
    frame["saved_fraction"] = 1 - frame["wall_s"] / pd.Series([baseline[key] for key in keys])
    return frame


def test_directions_mark_measured_rows(summary: pd.DataFrame):
    merged = with_directions(summary, savings_direction(summary))

    same = merged.set_index(["mode", "dockerfile_id", "strategy"])["same_direction_as_model"]
    assert bool(same[("measured", "agrees", "lookahead")]) is True
    assert bool(same[("measured", "disagrees", "lookahead")]) is False
    assert same[("model", "agrees", "lookahead")] is pd.NA
    assert merged["wall_sign"].notna().all()


def test_measured_headline_rows(summary: pd.DataFrame):
    direction = savings_direction(summary)

    table = measured_headline(with_directions(summary, direction), direction, sampled=3, scale=100)

    assert set(table["mode"]) == {"measured"}
    value = table.set_index("metric")["value"]
    assert value["files_replayed"] == 2
    assert value["saved_fraction_median"] == pytest.approx((0.75 - 0.5) / 2)
    assert value["saved_fraction_total"] == pytest.approx((0.75 - 0.5) / 2)
    assert value["saved_bytes_median"] == pytest.approx((8 + 5) / 2)
    assert value["same_direction_share:time"] == 0.5
    assert value["same_direction_share:stages built"] == 1.0
    assert value["same_direction_share:bytes moved"] == 1.0
    note = table.set_index("metric")["note"]
    assert "of 3 sampled twins" in note["files_replayed"]
    assert "scaled down by 100" in note["saved_bytes_median"]


def test_measured_rows_labelled_in_report(summary: pd.DataFrame):
    direction = savings_direction(summary)

    report = text_report(measured_headline(summary, direction, sampled=2, scale=100))

    assert "measured  saved_fraction_median" in report
    assert "measured  same_direction_share:time" in report


def test_per_file_report_names_disagreement(summary: pd.DataFrame):
    merged = with_directions(summary, savings_direction(summary))

    lines = per_file_report(merged).splitlines()

    assert lines[1].split() == ["model", "measured", "same", "direction", "dockerfile"]
    assert lines[2].split() == ["80.0%", "75.0%", "yes", "agrees"]
    assert lines[3].split() == ["50.0%", "-50.0%", "NO", "disagrees"]


def test_measured_headline_without_replays(summary: pd.DataFrame):
    # Every twin failed to build, so only the model's rows exist.
    model = summary[summary["mode"] == "model"]

    table = measured_headline(model, savings_direction(model), sampled=2, scale=100)

    assert list(table["metric"]) == ["files_replayed"]
    assert table.loc[0, "value"] == 0


def test_per_file_report_without_replays(summary: pd.DataFrame):
    model = summary[summary["mode"] == "model"]

    lines = per_file_report(with_directions(model, savings_direction(model))).splitlines()

    assert lines[-1] == "(no twin was built)"
