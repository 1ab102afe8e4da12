"""stage_bars, stage_graph, savings_hist and timing_box: the artists they draw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from cachelab.plots import (
    ACTION_COLORS,
    STRATEGY_COLORS,
    PlotInputError,
    axis_label,
    savings_hist,
    stage_bars,
    stage_graph,
    timing_box,
)
from cachelab.record import Recording, SyntheticStage, concat, synthetic_build

STAGES = (SyntheticStage(name="deps"), SyntheticStage(hits=1), SyntheticStage(instructions=1))


def strategies(repeats: int = 3, dockerfiles: int = 1) -> Recording:
    """Builds where lookahead takes half the time of no-cache, over several repeats."""
    recordings = []
    for dockerfile in range(dockerfiles):
        for repeat in range(repeats):
            for strategy, factor in (("no-cache", 1.0), ("lookahead", 0.5)):
                scale = factor * (1.0 + repeat) * (1.0 + dockerfile)
                events = synthetic_build(
                    f"{strategy}-{dockerfile}-{repeat}",
                    stages=STAGES,
                    strategy=strategy,
                    dockerfile_id=f"d{dockerfile}",
                    repeat=repeat,
                    scale=scale,
                )
                recordings.append(Recording.from_events(events, environment={}))
    return concat(recordings)


def bars(ax: Axes) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_stage_bars_count_and_heights(ax: Axes) -> None:
    rec = strategies()
    stage_bars(rec.stages, builds=rec.builds, ax=ax)
    merged = rec.stages.merge(rec.builds[["build_id", "strategy"]], on="build_id")
    medians = merged.groupby(["strategy", "stage_index"])["wall_s"].median()

    assert len(bars(ax)) == 2 * len(STAGES)
    for container, strategy in zip(ax.containers, ["lookahead", "no-cache"]):
        assert container.get_label() == strategy
        heights = [bar.get_height() for bar in container]
        assert heights == pytest.approx([medians[(strategy, i)] for i in range(len(STAGES))])
        assert to_hex(container[0].get_facecolor()) == STRATEGY_COLORS[strategy]


def test_stage_bars_labels_and_legend(ax: Axes) -> None:
    rec = strategies()
    stage_bars(rec.stages, builds=rec.builds, y="execute_s", estimator="max", ax=ax)

    assert [t.get_text() for t in ax.get_xticklabels()] == ["0 deps", "1", "2"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["lookahead", "no-cache"]
    assert ax.get_ylabel() == "execution time (s), max over builds"


def test_stage_bars_order(ax: Axes) -> None:
    rec = strategies()
    stage_bars(rec.stages, builds=rec.builds, order=["no-cache", "lookahead"], ax=ax)

    assert [c.get_label() for c in ax.containers] == ["no-cache", "lookahead"]
    assert ax.containers[0][0].get_x() < ax.containers[1][0].get_x()


def test_stage_bars_na_drawn_as_zero(ax: Axes) -> None:
    rec = strategies(repeats=1)
    stages = rec.stages.assign(hash_s=pd.array([None] * len(rec.stages), dtype="Float64"))
    stage_bars(stages, builds=rec.builds, y="hash_s", ax=ax)

    assert [bar.get_height() for bar in bars(ax)] == [0.0] * 6


def test_stage_bars_needs_hue(ax: Axes) -> None:
    with pytest.raises(PlotInputError, match="`data` has no column `strategy`") as info:
        stage_bars(strategies().stages, ax=ax)
    assert "builds=" in (info.value.hint or "")


def test_stage_bars_rejects_unknown_options(ax: Axes) -> None:
    rec = strategies()

    with pytest.raises(PlotInputError, match="`estimator` 'mode'"):
        stage_bars(rec.stages, builds=rec.builds, estimator="mode", ax=ax)
    with pytest.raises(PlotInputError, match="`order` names 'per-stage'"):
        stage_bars(rec.stages, builds=rec.builds, order=["per-stage"], ax=ax)
    with pytest.raises(PlotInputError, match="`data` has no column `nope_s`"):
        stage_bars(rec.stages, builds=rec.builds, y="nope_s", ax=ax)
    assert not ax.patches


def graph_stages() -> pd.DataFrame:
    stages = (
        SyntheticStage(name="base"),
        SyntheticStage(name="deps", action="eliminated"),
        SyntheticStage(name="tools", action="unused"),
        SyntheticStage(name="app"),
    )
    return Recording.from_events(synthetic_build(stages=stages), environment={}).stages


EDGES = pd.DataFrame(
    {"source": [0, 0, 1], "target": [1, 3, 3], "kind": ["from", "from", "copy-from"]}
)


def test_stage_graph_boxes_coloured_by_action(ax: Axes) -> None:
    stages = graph_stages()
    stage_graph(stages, edges=EDGES, ax=ax)
    boxes = {p.get_gid(): p for p in ax.patches if isinstance(p, FancyBboxPatch)}

    assert set(boxes) == {f"stage:{i}" for i in range(4)}
    for index, action in zip(stages["stage_index"], stages["action"]):
        assert to_hex(boxes[f"stage:{index}"].get_facecolor()) == ACTION_COLORS[action]


def test_stage_graph_edges_and_styles(ax: Axes) -> None:
    stage_graph(graph_stages(), edges=EDGES, ax=ax)
    arrows = {p.get_gid(): p for p in ax.patches if isinstance(p, FancyArrowPatch)}

    assert set(arrows) == {"edge:from:0->1", "edge:from:0->3", "edge:copy-from:1->3"}
    assert arrows["edge:from:0->1"].get_linestyle() == "solid"
    assert arrows["edge:copy-from:1->3"].get_linestyle() == "dashed"


def test_stage_graph_columns_by_depth(ax: Axes) -> None:
    stage_graph(graph_stages(), edges=EDGES, ax=ax)
    boxes = {p.get_gid(): p for p in ax.patches if isinstance(p, FancyBboxPatch)}
    centers = {gid: box.get_x() + box.get_width() / 2 for gid, box in boxes.items()}

    assert centers["stage:0"] == pytest.approx(0.0)
    assert centers["stage:1"] == pytest.approx(1.0)
    assert centers["stage:2"] == pytest.approx(0.0)
    assert centers["stage:3"] == pytest.approx(2.0)


def test_stage_graph_legend(ax: Axes) -> None:
    stage_graph(graph_stages(), edges=EDGES, ax=ax)
    entries = [t.get_text() for t in ax.get_legend().get_texts()]

    assert entries == ["built", "eliminated", "unused", "FROM", "COPY --from"]


@pytest.mark.parametrize(
    "edges, message",
    [
        (pd.DataFrame({"source": [0], "target": [9], "kind": ["from"]}), "names stage 9"),
        (pd.DataFrame({"source": [0], "target": [1], "kind": ["mount"]}), "kind 'mount'"),
        (
            pd.DataFrame({"source": [0, 1], "target": [1, 0], "kind": ["from", "from"]}),
            "contain a cycle",
        ),
        (pd.DataFrame({"source": [0], "target": [1]}), "`edges` has no column `kind`"),
    ],
)
def test_stage_graph_rejects_bad_edges(ax: Axes, edges: pd.DataFrame, message: str) -> None:
    with pytest.raises(PlotInputError, match=message):
        stage_graph(graph_stages(), edges=edges, ax=ax)


def test_savings_hist_counts_groups(ax: Axes) -> None:
    rec = strategies(repeats=3, dockerfiles=4)
    savings_hist(rec.builds, bins=5, ax=ax)
    heights = [bar.get_height() for bar in bars(ax)]

    assert len(heights) == 5
    assert sum(heights) == 4
    [median_line] = ax.get_lines()
    assert median_line.get_xdata()[0] == pytest.approx(50.0)
    assert ax.get_xlabel() == "wall time saved by lookahead over no-cache (%)"


def test_savings_hist_bin_holds_savings(ax: Axes) -> None:
    rec = strategies(repeats=3, dockerfiles=2)
    savings_hist(rec.builds, bins=[0.0, 25.0, 49.0, 51.0, 100.0], ax=ax)

    assert [bar.get_height() for bar in bars(ax)] == [0, 0, 2, 0]


def test_savings_hist_missing_column(ax: Axes) -> None:
    builds = strategies().builds.drop(columns=["scenario"])

    with pytest.raises(PlotInputError, match="savings_hist: `data` has no column `scenario`"):
        savings_hist(builds, ax=ax)


def test_timing_box_one_box_per_strategy(ax: Axes) -> None:
    builds = strategies(repeats=5).builds
    timing_box(builds, ax=ax)
    medians = builds.groupby("strategy")["wall_s"].median()
    boxes = [p for p in ax.patches if (p.get_gid() or "").startswith("box:")]

    assert [b.get_gid() for b in boxes] == ["box:lookahead", "box:no-cache"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lookahead", "no-cache"]
    median_lines = [line for line in ax.get_lines() if len(set(line.get_ydata())) == 1]
    median_values = {float(np.mean(line.get_xdata())): line.get_ydata()[0] for line in median_lines}
    assert median_values[1.0] == pytest.approx(medians["lookahead"])
    assert median_values[2.0] == pytest.approx(medians["no-cache"])


def test_timing_box_labels_unit(ax: Axes) -> None:
    timing_box(strategies().builds, ax=ax)

    assert ax.get_ylabel() == "wall time (s)"
    assert ax.get_xlabel() == "strategy"


@pytest.mark.parametrize(
    "column, label",
    [
        ("wall_s", "wall time (s)"),
        ("download_s", "download time (s)"),
        ("model_warm_s", "model warm (s)"),
        ("bytes_unpacked", "bytes unpacked"),
        ("cache_hits", "cache_hits"),
    ],
)
def test_axis_label_names_unit(column: str, label: str) -> None:
    assert axis_label(column) == label


def test_timing_box_leaves_out_failed_builds(ax: Axes) -> None:
    ok = strategies(repeats=3)
    failed = Recording.from_events(
        synthetic_build("slow", strategy="per-stage", outcome="error", scale=99.0), environment={}
    )
    timing_box(concat([ok, failed]).builds, ax=ax)

    assert [t.get_text() for t in ax.get_xticklabels()] == ["lookahead", "no-cache"]
    drawn = [y for line in ax.get_lines() for y in line.get_ydata()]
    assert drawn
    assert max(drawn) < 99.0


def test_timing_box_rejects_unknown_order(ax: Axes) -> None:
    with pytest.raises(PlotInputError, match="`order` names 'per-stage'"):
        timing_box(strategies().builds, order=["per-stage"], ax=ax)


def test_functions_reject_non_frames(ax: Axes) -> None:
    with pytest.raises(PlotInputError, match="`data` must be a pandas DataFrame, not list"):
        timing_box([1.0, 2.0], ax=ax)  # type: ignore[arg-type]


def test_savings_hist_drops_nan_ratios(ax: Axes) -> None:
    builds = strategies(repeats=3, dockerfiles=4).builds.copy()
    builds.loc[builds["dockerfile_id"] == "d0", "wall_s"] = 0.0
    savings_hist(builds, bins=5, ax=ax)
    heights = [bar.get_height() for bar in bars(ax)]
    [median_line] = ax.get_lines()
    labels = [text.get_text() for text in ax.get_legend().get_texts()]

    assert sum(heights) == 3
    assert median_line.get_xdata()[0] == pytest.approx(50.0)
    assert labels == ["3 groups (1 without a finite ratio dropped)", "median 50.0%"]
