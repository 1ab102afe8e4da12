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


def by_text(table: pd.DataFrame) -> dict[str, pd.Series]:
    """Return the rows of a decisions table by a short name of their instruction."""
    names = {
        "COPY docs/": "copy docs", "RUN cat /src/docs": "run docs",
        "COPY config.ini": "copy config", "RUN sed": "run config", "RUN mkdir /assets": "run assets",
        "COPY --from=docs": "from docs", "COPY --from=config": "from config",
        "COPY --from=assets": "from assets", "RUN ls -R": "run final",
        "COPY version.txt": "copy version", "RUN date": "run stamp", "COPY --from=stamp": "from stamp",
        "RUN echo": "run version", "COPY --from=base /version": "from base", "COPY app.txt": "copy app",
        "RUN touch": "run touch", "COPY --from=base /blubb": "from blubb", "RUN ls -lah": "run ls",
    }
    rows = {}
    for _, row in table.iterrows():
        for prefix, name in names.items():
            if row["instruction"].startswith(prefix):
                rows[name] = row
    return rows


def test_cold_build_has_no_previous(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")
    table = explorer.decisions()

    assert [text.split()[0] for text in table["instruction"]] == ["RUN", "COPY", "RUN"]
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
    rows = by_text(explorer.decisions())

    # The edited file's COPY misses and names the file; the other producers hit.
    assert rows["copy config"]["decision"] == "miss"
    assert rows["copy config"]["what_changed"].startswith("files of")
    assert "config.ini: content" in rows["copy config"]["what_changed"]
    assert str(explorer.scratch) not in rows["copy config"]["what_changed"]
    assert rows["copy docs"]["decision"] == "hit"
    assert rows["run assets"]["decision"] == "hit"
    # The consumer's COPY of the rebuilt stage sees new bytes and misses.
    assert rows["from config"]["decision"] == "miss"
    assert rows["from config"]["key_changed"]
    assert rows["from docs"]["decision"] == "hit"
    assert not rows["from docs"]["key_changed"]


def test_context_edit_lookahead(explorer: Explorer) -> None:
    explorer.select("fan-in", "lookahead")
    explorer.apply(EditContextFile("config.ini"))
    rows = by_text(explorer.decisions())

    assert rows["copy config"]["decision"] == "miss"
    assert rows["from config"]["decision"] == "miss"
    assert rows["from config"]["key_changed"]
    assert rows["from docs"]["decision"] == "hit"
    assert rows["from assets"]["decision"] == "not-probed"


def test_nondeterministic_run_lookahead(explorer: Explorer) -> None:
    explorer.select("fan-in", "lookahead")
    explorer.apply(MakeRunNondeterministic(explorer.find_line("RUN cat /src/docs")))
    rows = by_text(explorer.decisions())

    assert rows["run docs"]["decision"] == "miss"
    assert rows["run docs"]["what_changed"].startswith("instruction text differs")
    assert "/dev/urandom" in rows["run docs"]["instruction"]
    # The config stage is unchanged, so its COPY into the final stage still hits.
    assert rows["from config"]["decision"] == "hit"


def test_nondeterministic_rejects_non_run(explorer: Explorer) -> None:
    explorer.select("two-stage", "lookahead")
    with pytest.raises(ExplorerError, match="not a one-line RUN"):
        explorer.apply(MakeRunNondeterministic(explorer.find_line("COPY --from=base")))


def test_moved_base_tag_misses_first_instructions(explorer: Explorer) -> None:
    explorer.select("fan-in", "per-stage")
    assert explorer.base_references() == ["busybox"]
    explorer.apply(MoveBaseTag("busybox"))
    table = explorer.decisions()
    rows = by_text(table)

    assert (table["decision"] != "hit").all()
    assert table["key_changed"].all()
    for name in ("copy docs", "copy config", "run assets", "from docs"):
        assert rows[name]["decision"] == "miss"
        assert "stage's base changed" in rows[name]["what_changed"]


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
        rows = by_text(custom.decisions())
    finally:
        custom.close()

    assert rows["run version"]["decision"] == "miss"
    assert rows["run version"]["what_changed"] == "RUN environment differs: VERSION changed"
    assert rows["from base"]["decision"] == "miss"
    assert rows["copy app"]["decision"] == "not-probed"


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


def test_squashed_stage_runs_in_child(explorer: Explorer) -> None:
    explorer.select("two-stage", "lookahead")
    explorer.rebuild()
    rows = by_text(explorer.decisions())
    stages = explorer.last.recording.stages.set_index("stage_index")

    # The COPY --from hits on its inferred key, so `base` loses its only COPY
    # dependent and is squashed into the final stage, which runs base's RUN.
    assert stages.loc[0, "action"] == "squashed"
    assert rows["run touch"]["stage_index"] == 1
    assert rows["run touch"]["origin_stage_index"] == 0
    assert rows["run ls"]["origin_stage_index"] == 1


def test_origin_stage_without_squash(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")
    explorer.rebuild()
    table = explorer.decisions()

    assert list(table["origin_stage_index"]) == list(table["stage_index"])
    assert list(table["origin_stage_index"]) == [0, 1, 1]


def test_context_files_and_run_lines(explorer: Explorer) -> None:
    explorer.select("fan-in", "per-stage")

    assert explorer.context_files() == ["config.ini", "docs/intro.txt", "docs/usage.txt"]
    runs = [text for _, text in explorer.run_lines()]
    assert len(runs) == 4
    assert runs[0].startswith("RUN cat /src/docs")
    assert runs[-1].startswith("RUN ls -R")


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


def test_new_session_removes_previous(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")
    assert explorer.workspace is not None
    first = explorer.workspace.root.parent
    explorer.select("two-stage", "lookahead")

    assert not first.exists()
    assert explorer.workspace.root.is_dir()


def test_close_removes_scratch(tmp_path: Path, explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")
    assert explorer.scratch.is_dir()
    explorer.close()
    assert not explorer.scratch.exists()


def test_forgotten_run_per_stage(explorer: Explorer) -> None:
    explorer.select("nondeterministic", "per-stage")
    explorer.rebuild()
    explorer.apply(ForgetCachedLayer(explorer.find_line("RUN date")))
    rows = by_text(explorer.decisions())

    # The RUN executes again and writes a new time, so the COPY --from sees new bytes.
    assert rows["run stamp"]["decision"] == "miss"
    assert not rows["run stamp"]["key_changed"]
    assert rows["from stamp"]["decision"] == "miss"
    assert rows["from stamp"]["what_changed"].startswith("files of")


def test_forgotten_run_lookahead(explorer: Explorer) -> None:
    explorer.select("nondeterministic", "lookahead")
    explorer.rebuild()
    explorer.apply(ForgetCachedLayer(explorer.find_line("RUN date")))
    rows = by_text(explorer.decisions())

    # The COPY --from key is inferred from the stage key, so the stage is never rebuilt.
    assert rows["run stamp"]["decision"] == "skipped"
    assert rows["run stamp"]["stage_action"] == "eliminated"
    assert rows["from stamp"]["decision"] == "hit"
    assert rows["from stamp"]["key_source"] == "inferred"


def test_forget_unknown_line_raises(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")
    with pytest.raises(ExplorerError, match="no entry for the instruction on line 1"):
        explorer.apply(ForgetCachedLayer(1))


def test_find_line_rejects_ambiguous(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")

    assert explorer.find_line("RUN touch") < explorer.find_line("RUN ls")
    with pytest.raises(ExplorerError, match="instructions on lines"):
        explorer.find_line("RUN")
    with pytest.raises(ExplorerError, match="no instruction"):
        explorer.find_line("ADD")


def test_moved_tag_stays_in_session(explorer: Explorer) -> None:
    cold = explorer.select("two-stage", "per-stage")
    explorer.apply(MoveBaseTag("busybox"))
    again = explorer.select("two-stage", "per-stage")

    # The new session copies the bases as they were before the tag moved.
    assert again.result.stages[0].instructions[0].key == cold.result.stages[0].instructions[0].key
    assert (explorer.scratch / "base-images").is_dir()


@pytest.mark.parametrize(("name", "problem"), [
    ("", "invalid --build-arg '=1': the name before '=' is empty"),
    ("A B", "invalid --build-arg 'A B=1': the name 'A B' contains whitespace"),
    ("A=B", "invalid --build-arg 'A=B=1': the name 'A=B' contains '='"),
])
def test_invalid_build_arg_rejected(explorer: Explorer, name: str, problem: str) -> None:
    explorer.select("two-stage", "per-stage")

    with pytest.raises(ExplorerError) as caught:
        explorer.apply(ChangeBuildArg(name, "1"))

    assert str(caught.value) == problem
    assert len(explorer.builds) == 1


def test_move_unused_base_rejected(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")

    with pytest.raises(ExplorerError) as caught:
        explorer.apply(MoveBaseTag("alpine"))

    assert "no stage of two-stage is based on image 'alpine'" in str(caught.value)
    assert caught.value.hint == "Move a tag the example builds on: busybox."
    assert len(explorer.builds) == 1


def test_move_base_full_reference(explorer: Explorer) -> None:
    explorer.select("two-stage", "per-stage")

    explorer.apply(MoveBaseTag("docker.io/library/busybox:latest"))

    assert explorer.decisions()["decision"].iloc[0] == "miss"
