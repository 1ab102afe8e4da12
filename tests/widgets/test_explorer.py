"""The explorer's logic on real builds of the examples: decisions after each kind of change."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cachelab.widgets import (
    ChangeBuildArg,
    EditContextFile,
    Explorer,
    ExplorerError,
    ForgetCachedLayer,
    MakeRunNondeterministic,
    MoveBaseTag,
)


def by_line(table: pd.DataFrame) -> dict[int, pd.Series]:
    return {int(row["line"]): row for _, row in table.iterrows()}


def test_cold_build_has_no_previous(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")
    table = explorer.decisions()

    assert list(table["line"]) == [5, 8, 9]
    assert table["previous_decision"].isna().all()
    assert not table["key_changed"].any()
    assert set(table["decision"]) == {"miss", "not-probed"}


def test_unchanged_rebuild_hits_everything(explorer: Explorer) -> None:
    explorer.select("fan-in", "per-stage")
    explorer.rebuild()
    table = explorer.decisions()

    assert (table["decision"] == "hit").all()
    assert not table["key_changed"].any()
    assert (table["what_changed"] == "").all()


def test_context_edit_per_stage(explorer: Explorer) -> None:
    explorer.select("fan-in", "per-stage")
    explorer.apply(EditContextFile("config.ini"))
    rows = by_line(explorer.decisions())

    # The edited file's COPY misses and names the file; the other producers hit.
    assert rows[9]["decision"] == "miss"
    assert rows[9]["what_changed"].startswith("files of")
    assert "config.ini: content" in rows[9]["what_changed"]
    assert rows[5]["decision"] == "hit"
    assert rows[13]["decision"] == "hit"
    # The consumer's COPY of the rebuilt stage sees new bytes and misses.
    assert rows[17]["decision"] == "miss"
    assert rows[17]["key_changed"]
    assert rows[16]["decision"] == "hit"
    assert not rows[16]["key_changed"]


def test_context_edit_lookahead(explorer: Explorer) -> None:
    explorer.select("fan-in", "lookahead")
    explorer.apply(EditContextFile("config.ini"))
    rows = by_line(explorer.decisions())

    assert rows[9]["decision"] == "miss"
    assert rows[17]["decision"] == "miss"
    assert rows[17]["key_changed"]
    assert rows[16]["decision"] == "hit"
    assert rows[18]["decision"] == "not-probed"


def test_nondeterministic_run_lookahead(explorer: Explorer) -> None:
    explorer.select("fan-in", "lookahead")
    explorer.apply(MakeRunNondeterministic(6))
    rows = by_line(explorer.decisions())

    assert rows[6]["decision"] == "miss"
    assert rows[6]["what_changed"].startswith("instruction text differs")
    assert "date +%s%N" in rows[6]["instruction"]
    # The config stage is unchanged, so its COPY into the final stage still hits.
    assert rows[17]["decision"] == "hit"


def test_nondeterministic_rejects_non_run(explorer: Explorer) -> None:
    explorer.select("two-stage", "lookahead")
    with pytest.raises(ExplorerError, match="not a one-line RUN"):
        explorer.apply(MakeRunNondeterministic(8))


def test_moved_base_tag_misses_first_instructions(explorer: Explorer) -> None:
    explorer.select("fan-in", "per-stage")
    assert explorer.base_references() == ["busybox"]
    explorer.apply(MoveBaseTag("busybox"))
    table = explorer.decisions()
    rows = by_line(table)

    assert (table["decision"] != "hit").all()
    assert table["key_changed"].all()
    for line in (5, 9, 13, 16):
        assert rows[line]["decision"] == "miss"
        assert "stage's base changed" in rows[line]["what_changed"]


def test_moved_tag_twice_changes_again(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")
    first = explorer.apply(MoveBaseTag("busybox"))
    second = explorer.apply(MoveBaseTag("busybox"))

    assert first.result.stages[0].instructions[0].key != second.result.stages[0].instructions[0].key
    assert explorer.decisions()["decision"].iloc[0] == "miss"


def test_declared_build_arg_change(explorer: Explorer, arg_examples: Path) -> None:
    custom = Explorer(arg_examples, work_dir=explorer.scratch)
    try:
        custom.select("with-arg", "per-stage")
        assert custom.build_arg_names() == ["VERSION"]
        custom.apply(ChangeBuildArg("VERSION", "2"))
        rows = by_line(custom.decisions())
    finally:
        custom.close()

    assert rows[3]["decision"] == "miss"
    assert rows[3]["what_changed"] == "RUN environment differs: VERSION changed"
    assert rows[6]["decision"] == "miss"
    assert rows[7]["decision"] == "not-probed"


def test_undeclared_build_arg_changes_nothing(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")
    explorer.apply(ChangeBuildArg("UNUSED", "1"))
    table = explorer.decisions()

    assert (table["decision"] == "hit").all()
    assert not table["key_changed"].any()


def test_eliminated_stages_are_skipped(explorer: Explorer) -> None:
    explorer.select("nondeterministic", "lookahead")
    explorer.rebuild()
    table = explorer.decisions()
    stamp = table[table["stage_index"] == 0]

    assert list(stamp["stage_action"].unique()) == ["eliminated"]
    assert (stamp["decision"] == "skipped").all()


def test_context_files_and_run_lines(explorer: Explorer) -> None:
    explorer.select("fan-in", "per-stage")

    assert explorer.context_files() == ["config.ini", "docs/intro.txt", "docs/usage.txt"]
    assert [line for line, _ in explorer.run_lines()] == [6, 10, 13, 19]


def test_unknown_example_raises(explorer: Explorer) -> None:
    with pytest.raises(ExplorerError, match="unknown example 'nope'") as raised:
        explorer.select("nope")
    assert "two-stage" in (raised.value.hint or "")


def test_unknown_strategy_raises(explorer: Explorer) -> None:
    with pytest.raises(ExplorerError, match="unknown strategy 'fast'"):
        explorer.select("two-stage", "fast")


def test_missing_examples_dir_raises(tmp_path: Path) -> None:
    with pytest.raises(ExplorerError, match="examples directory not found"):
        Explorer(tmp_path / "absent", work_dir=tmp_path)


def test_timeline_draws_stage_rows(explorer: Explorer) -> None:
    from matplotlib.figure import Figure

    explorer.select("two-stage", "per-stage")
    ax = explorer.timeline(ax=Figure().subplots())

    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert any("base" in label for label in labels)
    assert "per-stage" in ax.get_title()


def test_close_removes_scratch(tmp_path: Path, explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")
    assert explorer.scratch.is_dir()
    explorer.close()
    assert not explorer.scratch.exists()


def test_forgotten_run_per_stage(explorer: Explorer) -> None:
    explorer.select("nondeterministic", "per-stage")
    explorer.rebuild()
    explorer.apply(ForgetCachedLayer(7))
    rows = by_line(explorer.decisions())

    # The RUN executes again and writes a new time, so the COPY --from sees new bytes.
    assert rows[7]["decision"] == "miss"
    assert not rows[7]["key_changed"]
    assert rows[10]["decision"] == "miss"
    assert rows[10]["what_changed"].startswith("files of")


def test_forgotten_run_lookahead(explorer: Explorer) -> None:
    explorer.select("nondeterministic", "lookahead")
    explorer.rebuild()
    explorer.apply(ForgetCachedLayer(7))
    rows = by_line(explorer.decisions())

    # The COPY --from key is inferred from the stage key, so the stage is never rebuilt.
    assert rows[7]["decision"] == "skipped"
    assert rows[7]["stage_action"] == "eliminated"
    assert rows[10]["decision"] == "hit"
    assert rows[10]["key_source"] == "inferred"


def test_forget_unknown_line_raises(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")
    with pytest.raises(ExplorerError, match="no entry for the instruction on line 3"):
        explorer.apply(ForgetCachedLayer(3))
