"""timeline: one bar per drawn span, extents equal to span times, rows per stage."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex

from cachelab.plots import PHASE_COLORS, PlotInputError, timeline
from cachelab.record import Recording, SyntheticStage, concat, synthetic_build


def recording() -> Recording:
    stages = (
        SyntheticStage(name="deps", instructions=2),
        SyntheticStage(action="eliminated"),
        SyntheticStage(instructions=1, hits=1),
    )
    return Recording.from_events(synthetic_build(stages=stages), environment={})


def span_bars(ax: Axes) -> dict[str, object]:
    return {
        patch.get_gid().removeprefix("span:"): patch
        for patch in ax.patches
        if (patch.get_gid() or "").startswith("span:")
    }


def test_one_bar_per_leaf_span(ax: Axes) -> None:
    spans = recording().spans
    timeline(spans, ax=ax)

    drawn = spans[spans["phase"].isin(list(PHASE_COLORS))]
    assert set(span_bars(ax)) == set(drawn["span_id"])
    assert len(span_bars(ax)) == len(drawn)


def test_bar_extents_equal_span_times(ax: Axes) -> None:
    spans = recording().spans.set_index("span_id")
    timeline(spans.reset_index(), ax=ax)

    for span_id, bar in span_bars(ax).items():
        assert bar.get_x() == pytest.approx(spans.loc[span_id, "start_s"])
        assert bar.get_width() == pytest.approx(
            spans.loc[span_id, "end_s"] - spans.loc[span_id, "start_s"]
        )


def test_bars_coloured_by_phase(ax: Axes) -> None:
    spans = recording().spans.set_index("span_id")
    timeline(spans.reset_index(), ax=ax)

    for span_id, bar in span_bars(ax).items():
        assert to_hex(bar.get_facecolor()) == PHASE_COLORS[spans.loc[span_id, "phase"]]


def test_rows_follow_stages_and_build(ax: Axes) -> None:
    rec = recording()
    timeline(rec.spans, stages=rec.stages, ax=ax)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    spans = rec.spans.set_index("span_id")

    assert labels == ["0 deps", "1 (eliminated)", "2", "build"]
    for span_id, bar in span_bars(ax).items():
        stage = spans.loc[span_id, "stage_index"]
        row = 3 if pd.isna(stage) else int(stage)
        assert bar.get_y() + bar.get_height() / 2 == pytest.approx(row)


def test_eliminated_stage_drawn_hatched(ax: Axes) -> None:
    rec = recording()
    timeline(rec.spans, stages=rec.stages, ax=ax)
    [outline] = [p for p in ax.patches if p.get_gid() == "eliminated:1"]

    assert outline.get_hatch() == "//"
    assert outline.get_width() == pytest.approx(rec.spans["end_s"].max())
    assert outline.get_facecolor()[3] == 0.0


def test_legend_lists_phases_and_actions(ax: Axes) -> None:
    rec = recording()
    timeline(rec.spans, stages=rec.stages, ax=ax)
    entries = [text.get_text() for text in ax.get_legend().get_texts()]
    phases = set(rec.spans["phase"]) & set(PHASE_COLORS)

    assert entries == [p for p in PHASE_COLORS if p in phases] + ["eliminated"]


def test_without_stages_no_eliminated_row(ax: Axes) -> None:
    timeline(recording().spans, ax=ax)
    labels = [label.get_text() for label in ax.get_yticklabels()]

    assert labels == ["0", "2", "build"]


def test_nested_same_phase_span_not_drawn(ax: Axes) -> None:
    spans = pd.DataFrame(
        {
            "build_id": ["b"] * 2,
            "span_id": ["outer", "inner"],
            "parent_id": [None, "outer"],
            "phase": ["download", "download"],
            "stage_index": pd.array([0, 0], dtype="Int64"),
            "start_s": [0.0, 0.5],
            "end_s": [2.0, 1.0],
        }
    )
    timeline(spans, ax=ax)

    assert list(span_bars(ax)) == ["outer"]


def test_uses_current_axes_by_default() -> None:
    figure, axes = plt.subplots()
    returned = timeline(recording().spans)

    assert returned is axes
    plt.close(figure)


def test_several_builds_need_build_id(ax: Axes) -> None:
    spans = concat(
        [
            Recording.from_events(synthetic_build("a"), environment={}),
            Recording.from_events(synthetic_build("b"), environment={}),
        ]
    ).spans

    with pytest.raises(PlotInputError, match="contains 2 builds, so pass `build_id=`"):
        timeline(spans, ax=ax)
    timeline(spans, build_id="b", ax=ax)
    assert ax.get_title() == "build b"


def test_missing_column_named(ax: Axes) -> None:
    spans = recording().spans.drop(columns=["end_s"])

    with pytest.raises(PlotInputError, match="timeline: `data` has no column `end_s`"):
        timeline(spans, ax=ax)


def test_stages_missing_column_named(ax: Axes) -> None:
    rec = recording()

    with pytest.raises(PlotInputError, match="`stages` has no column `action`"):
        timeline(rec.spans, stages=rec.stages.drop(columns=["action"]), ax=ax)


def test_unknown_build_id(ax: Axes) -> None:
    with pytest.raises(PlotInputError, match="`build_id` 'nope' not found"):
        timeline(recording().spans, build_id="nope", ax=ax)


def test_draws_loaded_recording(ax: Axes, tmp_path: Path) -> None:
    rec = recording()
    rec.save(tmp_path)
    loaded = Recording.load(tmp_path)
    timeline(loaded.spans, stages=loaded.stages, ax=ax)

    assert len(span_bars(ax)) == len(rec.spans[rec.spans["phase"].isin(list(PHASE_COLORS))])
    assert [p.get_gid() for p in ax.patches if p.get_gid() == "eliminated:1"] == ["eliminated:1"]


def test_stage_missing_from_stages_gets_row(ax: Axes) -> None:
    rec = recording()
    stages = rec.stages[rec.stages["stage_index"] != 2]
    timeline(rec.spans, stages=stages, ax=ax)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    third_stage = set(rec.spans.loc[rec.spans["stage_index"] == 2, "span_id"])
    bars = span_bars(ax)

    assert labels == ["0 deps", "1 (eliminated)", "2", "build"]
    drawn = third_stage & set(bars)
    assert drawn
    for span_id in drawn:
        assert bars[span_id].get_y() + bars[span_id].get_height() / 2 == pytest.approx(2)
