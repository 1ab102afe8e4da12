"""Key stability columns and summary on recordings made from plain events.

Each test writes the events of two or three builds of one run the way the
builder emits them, then checks what `add_stability` derives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cachelab.events import BuildFinished, BuildStarted, Event, InstructionRecorded, StageRecorded
from cachelab.events.keyparts import format_key_part, parse_key_part
from cachelab.record import Recording
from cachelab.record.schema import SCHEMA_VERSION
from cachelab.record.storage import VERSION_KEY
from cachelab.study import ClearCache, EditFile, MoveBaseTag, Scenario, SetBuildArg, Step
from cachelab.study.stability import add_stability, stability_summary, step_changes

STARTED = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeInstruction:
    key: str | None
    parts: tuple[str, ...]
    decision: str = "hit"
    text: str = "RUN true"
    key_source: str | None = "text"


@dataclass
class FakeStage:
    name: str | None
    instructions: list[FakeInstruction]
    final_key: str | None = None
    base: str = "busybox"
    base_kind: str = "image"
    action: str = "built"


@dataclass
class FakeRun:
    """Events of the builds of one scenario run, one build per step."""

    scenario: str
    strategy: str = "per-stage"
    events: list[Event] = field(default_factory=list)

    def build(self, step: int, stages: list[FakeStage], content_digest: str = "sha256:same") -> None:
        build_id = f"{self.scenario}-{self.strategy}-{step}"
        self.events.append(BuildStarted(
            build_id=build_id, run_id="run", engine="cachelab", engine_version="0", strategy=self.strategy,
            profile=None, flags=None, dockerfile_id="example", target=None, started_at=STARTED,
            scenario=self.scenario, step=step, repeat=0,
        ))
        for index, stage in enumerate(stages):
            final = stage.final_key or next(
                (i.key for i in reversed(stage.instructions) if i.key is not None), None,
            )
            self.events.append(StageRecorded(
                build_id=build_id, stage_index=index, stage_name=stage.name, base=stage.base,
                base_kind=stage.base_kind, action=stage.action, unpacked=True, final_key=final,
                key_a_priori=True,
            ))
            for position, instruction in enumerate(stage.instructions):
                self.events.append(InstructionRecorded(
                    build_id=build_id, stage_index=index, instruction_index=position, line=position + 1,
                    instruction=instruction.text, kind=instruction.text.split()[0], cache_key=instruction.key,
                    key_source=instruction.key_source, redirect_key=None, probed=True,
                    decision=instruction.decision, a_priori=True, key_parts=instruction.parts,
                ))
        self.events.append(BuildFinished(build_id, 1.0, "ok", image_digest="sha256:i",
                                         image_content_digest=content_digest))


def file_part(path: str, value: str) -> str:
    return format_key_part("file", value, path)


def two_stage(copy_file_hash: str, *, source_key: str, copy_key: str, run_key: str,
              decisions: tuple[str, str, str] = ("hit", "hit", "hit"),
              app_hash: str = "a1", app_key: str = "k-app") -> list[FakeStage]:
    """A stage `gen` (COPY app.txt, RUN) and a final stage that copies its output."""
    gen = FakeStage("gen", [
        FakeInstruction(app_key, ("instruction:COPY app.txt /app.txt", file_part("app.txt", app_hash)),
                        decisions[0], "COPY app.txt /app.txt", "content"),
        FakeInstruction(source_key, ("instruction:RUN make",), decisions[1], "RUN make"),
    ])
    final = FakeStage(None, [
        FakeInstruction(copy_key, ("instruction:COPY --from=gen /out /out", file_part("/kaniko/deps/0/out", copy_file_hash)),
                        decisions[2], "COPY --from=gen /out /out", "content"),
        FakeInstruction(run_key, ("instruction:RUN cat /out",), "hit", "RUN cat /out"),
    ])
    return [gen, final]


def rows(recording: Recording, step: int) -> pd.DataFrame:
    instructions = recording.instructions.merge(recording.builds[["build_id", "step"]], on="build_id")
    chosen = instructions[instructions["step"] == step]
    return chosen.set_index(["stage_index", "instruction_index"])


def stage_rows(recording: Recording, step: int) -> pd.DataFrame:
    stages = recording.stages.merge(recording.builds[["build_id", "step"]], on="build_id")
    return stages[stages["step"] == step].set_index("stage_index")


def test_key_part_text_round_trip() -> None:
    assert parse_key_part(format_key_part("file", "abc", "dir:with:colons/x")).path == "dir:with:colons/x"
    assert parse_key_part(format_key_part("file", "abc", "dir:x")).value == "abc"
    assert parse_key_part(format_key_part("env", "A=b:c")).value == "A=b:c"
    assert parse_key_part("instruction:RUN a:b").kind == "instruction"


def test_context_edit_is_expected_downstream() -> None:
    run = FakeRun("edit:app.txt")
    run.build(0, two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run"))
    run.build(1, two_stage("o2", source_key="k-gen2", copy_key="k-copy2", run_key="k-run2", app_hash="a2",
                           app_key="k-app2", decisions=("miss", "miss", "miss")))
    recording = add_stability(Recording.from_events(run.events, environment={}))
    warm = rows(recording, 1)

    assert warm["key_changed"].tolist() == [True, True, True, True]
    assert warm["key_change_part"].tolist() == ["file:app.txt", "parent", "file:/kaniko/deps/0/out", "parent"]
    assert warm["key_change_expected"].tolist() == [True, True, True, True]
    assert warm.loc[(0, 0), "decision_flipped"]
    assert not warm.loc[(1, 1), "decision_flipped"]
    stages = stage_rows(recording, 1)
    assert stages["key_changed"].tolist() == [True, True]
    assert stages["key_change_expected"].tolist() == [True, True]
    assert stages.loc[0, "key_change_part"] == "file:app.txt"


def test_changed_output_of_unchanged_source_is_unexpected() -> None:
    run = FakeRun("rerun")
    scenario = Scenario("rerun", (Step(label="cold"), Step((ClearCache(),))))
    run.build(0, two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run"))
    run.build(1, two_stage("o2", source_key="k-gen", copy_key="k-copy2", run_key="k-run2",
                           decisions=("miss", "miss", "miss")))
    recording = add_stability(Recording.from_events(run.events, environment={}), {"rerun": scenario})
    warm = rows(recording, 1)

    assert warm["key_changed"].tolist() == [False, False, True, True]
    assert warm.loc[(1, 0), "key_change_part"] == "file:/kaniko/deps/0/out"
    assert not warm.loc[(1, 0), "key_change_expected"]
    assert not warm.loc[(1, 1), "key_change_expected"]
    assert pd.isna(warm.loc[(0, 0), "key_change_expected"])
    stages = stage_rows(recording, 1)
    assert not stages.loc[0, "key_changed"]
    assert not stages.loc[1, "key_change_expected"]


def test_unmutated_context_file_change_is_unexpected() -> None:
    run = FakeRun("warm-unchanged")
    run.build(0, two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run"))
    run.build(1, two_stage("o1", source_key="k-gen2", copy_key="k-copy", run_key="k-run", app_hash="a2",
                           app_key="k-app2"))
    recording = add_stability(Recording.from_events(run.events, environment={}))
    warm = rows(recording, 1)

    assert warm.loc[(0, 0), "key_change_part"] == "file:app.txt"
    assert not warm.loc[(0, 0), "key_change_expected"]


def test_moved_base_is_expected_base_change() -> None:
    run = FakeRun("move")
    scenario = Scenario("move", (Step(label="cold"), Step((MoveBaseTag("busybox"),))))
    run.build(0, two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run"))
    run.build(1, two_stage("o1", source_key="k-gen2", copy_key="k-copy2", run_key="k-run2", app_key="k-app2"))
    recording = add_stability(Recording.from_events(run.events, environment={}), {"move": scenario})
    warm = rows(recording, 1)

    assert warm.loc[(0, 0), "key_change_part"] == "base"
    assert warm.loc[(0, 0), "key_change_expected"]
    assert warm.loc[(1, 0), "key_change_part"] == "base"
    assert warm.loc[(1, 0), "key_change_expected"]


def test_build_arg_change_names_variable() -> None:
    scenario = Scenario("arg", (Step(label="cold"), Step((SetBuildArg("V", "2"),))))
    run = FakeRun("arg")
    for step, value in ((0, "sha256:one"), (1, "sha256:two")):
        stage = FakeStage(None, [FakeInstruction(
            f"k-run-{step}", ("env-count:|1", f"env:V={value}", "instruction:RUN make"), "miss", "RUN make",
        )])
        run.build(step, [stage])
    recording = add_stability(Recording.from_events(run.events, environment={}), {"arg": scenario})
    warm = rows(recording, 1)

    assert warm.loc[(0, 0), "key_change_part"] == "env:V"
    assert warm.loc[(0, 0), "key_change_expected"]


def test_unknown_scenario_fills_changes_only() -> None:
    run = FakeRun("from-a-file")
    run.build(0, two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run"))
    run.build(1, two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run2"))
    recording = add_stability(Recording.from_events(run.events, environment={}))
    warm = rows(recording, 1)

    assert warm["key_changed"].tolist() == [False, False, False, True]
    assert warm.loc[(1, 1), "key_change_part"] == "parent"
    assert warm["key_change_expected"].isna().all()
    assert recording.builds["transparent"].isna().all()


def test_skipped_stage_has_no_flip() -> None:
    run = FakeRun("warm-unchanged", strategy="lookahead")
    run.build(0, two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run",
                           decisions=("miss", "miss", "miss")))
    warm = two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run")
    warm[0].action = "eliminated"
    for instruction in warm[0].instructions:
        instruction.decision = "skipped"
    run.build(1, warm)
    recording = add_stability(Recording.from_events(run.events, environment={}))
    rows_warm = rows(recording, 1)

    assert not rows_warm.loc[(0, 0), "key_changed"]
    assert pd.isna(rows_warm.loc[(0, 0), "decision_flipped"])
    assert rows_warm.loc[(1, 0), "decision_flipped"]


def test_transparency_against_cold_build() -> None:
    run = FakeRun("warm-unchanged")
    stages = two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run")
    run.build(0, stages, content_digest="sha256:cold")
    run.build(1, stages, content_digest="sha256:cold")
    other = FakeRun("warm-unchanged", strategy="lookahead")
    other.build(0, stages, content_digest="sha256:cold")
    other.build(1, stages, content_digest="sha256:different")
    edited = FakeRun("edit:app.txt")
    edited.build(0, stages, content_digest="sha256:cold")
    edited.build(1, stages, content_digest="sha256:edited")
    events = [*run.events, *other.events, *edited.events]
    builds = add_stability(Recording.from_events(events, environment={})).builds.set_index("build_id")

    assert pd.isna(builds.loc["warm-unchanged-per-stage-0", "transparent"])
    assert builds.loc["warm-unchanged-per-stage-1", "transparent"]
    assert not builds.loc["warm-unchanged-lookahead-1", "transparent"]
    assert pd.isna(builds.loc["edit:app.txt-per-stage-1", "transparent"])


def test_summary_rates_per_strategy() -> None:
    run = FakeRun("rerun")
    scenario = Scenario("rerun", (Step(label="cold"), Step((ClearCache(),))))
    run.build(0, two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run"))
    run.build(1, two_stage("o2", source_key="k-gen", copy_key="k-copy2", run_key="k-run2",
                           decisions=("miss", "miss", "miss")), content_digest="sha256:other")
    recording = add_stability(Recording.from_events(run.events, environment={}), {"rerun": scenario})
    summary = stability_summary(recording).set_index("strategy")

    assert summary.loc["per-stage", "instructions_compared"] == 4
    assert summary.loc["per-stage", "key_change_rate"] == pytest.approx(0.5)
    assert summary.loc["per-stage", "unexpected_change_rate"] == pytest.approx(0.5)
    assert summary.loc["per-stage", "decision_flip_rate"] == pytest.approx(0.75)
    assert summary.loc["per-stage", "builds_checked"] == 1
    assert summary.loc["per-stage", "transparent_rate"] == pytest.approx(0.0)


def test_step_changes_by_mutation_kind() -> None:
    scenario = Scenario("mixed", (
        Step(label="cold"),
        Step((EditFile("src/app.txt", append="x"), SetBuildArg("V", "2"))),
        Step((ClearCache(),)),
    ))
    changes = step_changes(scenario)

    assert changes[1].context_paths == {"src/app.txt"}
    assert changes[1].build_args == {"V"}
    assert changes[1].changes_inputs
    assert not changes[2].changes_inputs


def test_version_one_recording_loads_with_new_columns(tmp_path: Path) -> None:
    run = FakeRun("warm-unchanged")
    run.build(0, two_stage("o1", source_key="k-gen", copy_key="k-copy", run_key="k-run"))
    Recording.from_events(run.events, environment={}).save(tmp_path)
    dropped = {
        "builds": ["image_content_digest", "transparent"],
        "stages": ["key_changed", "key_change_expected", "key_change_part", "decision_flipped"],
        "instructions": ["key_changed", "key_change_expected", "key_change_part", "decision_flipped", "key_parts"],
        "spans": [],
    }
    for name, columns in dropped.items():
        path = tmp_path / f"{name}.parquet"
        table = pq.read_table(path)
        table = table.drop_columns(columns)
        metadata = dict(table.schema.metadata or {})
        metadata[VERSION_KEY] = b"1"
        pq.write_table(table.replace_schema_metadata(metadata), path)

    loaded = Recording.load(tmp_path)

    assert SCHEMA_VERSION >= 2
    assert loaded.instructions["key_parts"].isna().all()
    assert loaded.builds["transparent"].isna().all()
    assert str(loaded.stages["key_changed"].dtype) == "boolean"
