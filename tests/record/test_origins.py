"""Stage counts that add up and instruction keys that stay the same when a build squashes a stage."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cachelab.events import BuildFinished, BuildStarted, Event, InstructionRecorded, StageRecorded
from cachelab.model.events import BuildLabels, simulated_events
from cachelab.model.warm import warm_rebuild
from cachelab.record import Recording, SyntheticStage, schema, storage, synthetic_build
from cachelab.record.origins import fill_origins
from tests.model.test_model import NOW, inputs_for

# `base` has one child and a COPY --from consumer, so a cold build builds both stages.
# A warm lookahead build infers the COPY key, drops the consumer and squashes `base`.
TWO_STAGE = """\
FROM alpine:3.20 AS base
RUN touch /blubb

FROM base
COPY --from=base /blubb /blubb
RUN ls -lah /blubb
"""

STAGE_COUNTS = ["stages_built", "stages_eliminated", "stages_squashed", "stages_unused"]
ORIGIN_KEY = ["origin_stage_index", "origin_instruction_index"]


@pytest.fixture(scope="module")
def two_stage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recording]:
    inputs = inputs_for(TWO_STAGE, tmp_path_factory.mktemp("two-stage"))
    rebuild = warm_rebuild(inputs, "kaniko-lookahead")
    recordings = {}
    for step, build in enumerate((rebuild.cold, rebuild.warm)):
        labels = BuildLabels(f"step-{step}", "run", "two-stage", "warm-unchanged", step, NOW)
        recordings["cold" if step == 0 else "warm"] = Recording.from_events(
            simulated_events(build, labels), environment={}
        )
    return recordings


def test_model_warm_build_squashes_base(two_stage: dict[str, Recording]) -> None:
    warm = two_stage["warm"]

    assert list(warm.stages["action"]) == ["squashed", "built"]
    assert list(warm.instructions["stage_index"]) == [1, 1, 1]
    assert list(warm.instructions["origin_stage_index"]) == [0, 1, 1]
    assert list(warm.instructions["origin_instruction_index"]) == [0, 0, 1]


def test_model_origin_key_joins_builds(two_stage: dict[str, Recording]) -> None:
    cold = two_stage["cold"].instructions.set_index(ORIGIN_KEY)
    warm = two_stage["warm"].instructions.set_index(ORIGIN_KEY)

    assert list(cold.index) == list(warm.index)
    assert list(cold["instruction"]) == list(warm["instruction"])
    assert list(cold["instruction_index"]) == [0, 0, 1]
    assert list(warm["instruction_index"]) == [0, 1, 2]


@pytest.mark.parametrize("build", ["cold", "warm"])
def test_model_stage_counts_add_up(two_stage: dict[str, Recording], build: str) -> None:
    row = two_stage[build].builds.iloc[0]

    assert row["stages_total"] == 2
    assert sum(row[column] for column in STAGE_COUNTS) == row["stages_total"]


def test_model_squashed_stage_counted(two_stage: dict[str, Recording]) -> None:
    row = two_stage["warm"].builds.iloc[0]

    assert row["stages_built"] == 1
    assert row["stages_squashed"] == 1
    assert row["stages_eliminated"] == 0
    assert row["stages_unused"] == 0


def test_unused_stage_counted() -> None:
    events = synthetic_build("a", stages=(SyntheticStage(), SyntheticStage(action="unused"), SyntheticStage()))
    row = Recording.from_events(events, environment={}).builds.iloc[0]

    assert row["stages_unused"] == 1
    assert row["stages_built"] == 2
    assert row["stages_total"] == 3


def _events(build_id: str, stages: list[tuple[int, str, int | None]], rows: list[tuple[int, int]]) -> list[Event]:
    """Events of one build whose instructions report no stage as written.

    `stages` lists (index, action, squashed_into), `rows` the (stage_index,
    instruction_index) of each instruction.
    """
    events: list[Event] = [
        BuildStarted(build_id=build_id, run_id="r", engine="kaniko", engine_version="1", strategy=None,
                     profile=None, flags=None, dockerfile_id=None, target=None,
                     started_at=datetime(2026, 12, 1, tzinfo=UTC)),
    ]
    for index, action, squashed_into in stages:
        events.append(StageRecorded(build_id=build_id, stage_index=index, stage_name=None, base=None,
                                    base_kind=None, action=action, unpacked=None, final_key=None,
                                    key_a_priori=None, squashed_into=squashed_into))
    for stage_index, instruction_index in rows:
        events.append(InstructionRecorded(build_id=build_id, stage_index=stage_index,
                                          instruction_index=instruction_index, line=None, instruction="RUN x",
                                          kind="RUN", cache_key=None, key_source=None, redirect_key=None,
                                          probed=False, decision="miss", a_priori=None))
    events.append(BuildFinished(build_id=build_id, wall_s=1.0, outcome="ok"))
    return events


def test_unreported_origin_filled_without_squash() -> None:
    events = _events("a", [(0, "built", None), (1, "built", None)], [(0, 0), (0, 1), (1, 3)])
    instructions = Recording.from_events(events, environment={}).instructions

    assert list(instructions["origin_stage_index"]) == [0, 0, 1]
    assert list(instructions["origin_instruction_index"]) == [0, 1, 3]


def test_unreported_origin_na_after_squash() -> None:
    events = _events("a", [(0, "squashed", 1), (1, "built", None)], [(1, 0), (1, 1)])
    instructions = Recording.from_events(events, environment={}).instructions

    assert instructions["origin_stage_index"].isna().all()
    assert instructions["origin_instruction_index"].isna().all()


def test_unreported_origin_na_above_gap() -> None:
    # Stage 1 has no row, as in a kaniko trace read without its log, so it may have been squashed into stage 2.
    events = _events("a", [(0, "built", None), (2, "built", None)], [(0, 0), (2, 0), (2, 1)])
    instructions = Recording.from_events(events, environment={}).instructions

    assert list(instructions["origin_stage_index"].iloc[:1]) == [0]
    assert instructions["origin_stage_index"].iloc[1:].isna().all()
    assert instructions["origin_instruction_index"].iloc[1:].isna().all()


def test_unreported_origin_na_without_stages() -> None:
    events = _events("a", [], [(0, 0), (0, 1)])
    instructions = Recording.from_events(events, environment={}).instructions

    assert instructions["origin_stage_index"].isna().all()


def test_origin_index_counts_own_stage_only() -> None:
    base = [("RUN a", 0), ("RUN b", 0)]
    child = [("COPY c", 2), ("RUN d", 2), ("RUN e", 2)]
    events = synthetic_build("a", stages=(SyntheticStage(action="squashed"), SyntheticStage(action="squashed"),
                                          SyntheticStage(instructions=0)))
    events = [event for event in events if not isinstance(event, InstructionRecorded)]
    for position, (text, origin) in enumerate(base + child):
        events.insert(-1, InstructionRecorded(
            build_id="a", stage_index=2, instruction_index=position, origin_stage_index=origin, line=None,
            instruction=text, kind=text.split()[0], cache_key=None, key_source=None, redirect_key=None,
            probed=False, decision="miss", a_priori=None,
        ))
    instructions = Recording.from_events(events, environment={}).instructions

    assert list(instructions["origin_instruction_index"]) == [0, 1, 0, 1, 2]


def _save_as_version_4(recording: Recording, directory: Path) -> None:
    recording.save(directory)
    for table in schema.TABLES:
        path = directory / f"{table}.parquet"
        arrow_table = pq.read_table(path)
        metadata = {**arrow_table.schema.metadata, storage.VERSION_KEY: b"4"}
        arrow_table = arrow_table.drop_columns(list(schema.ADDED_IN[5].get(table, ())))
        pq.write_table(arrow_table.replace_schema_metadata(metadata), path)


def test_version_4_gains_stage_counts(two_stage: dict[str, Recording], tmp_path: Path) -> None:
    _save_as_version_4(two_stage["warm"], tmp_path)

    loaded = Recording.load(tmp_path)

    row = loaded.builds.iloc[0]
    assert row["stages_squashed"] == 1
    assert row["stages_unused"] == 0
    assert loaded.builds["stages_squashed"].dtype == "Int64"


def test_version_4_origins_na_after_squash(two_stage: dict[str, Recording], tmp_path: Path) -> None:
    _save_as_version_4(two_stage["warm"], tmp_path)

    loaded = Recording.load(tmp_path)

    assert loaded.instructions["origin_stage_index"].isna().all()
    assert loaded.instructions["origin_instruction_index"].isna().all()


def test_version_4_origins_filled_without_squash(two_stage: dict[str, Recording], tmp_path: Path) -> None:
    _save_as_version_4(two_stage["cold"], tmp_path)

    loaded = Recording.load(tmp_path)

    pd.testing.assert_frame_equal(loaded.instructions, two_stage["cold"].instructions)
    pd.testing.assert_frame_equal(loaded.builds, two_stage["cold"].builds)


def test_version_4_build_without_stages_keeps_na(tmp_path: Path) -> None:
    events = [event for event in synthetic_build("a") if not isinstance(event, (StageRecorded, InstructionRecorded))]
    _save_as_version_4(Recording.from_events(events, environment={}), tmp_path)

    loaded = Recording.load(tmp_path)

    assert pd.isna(loaded.builds["stages_squashed"].iloc[0])
    assert pd.isna(loaded.builds["stages_unused"].iloc[0])


def test_stage_gap_ignores_repeated_and_na_rows() -> None:
    events = _events("a", [(0, "built", None), (1, "built", None), (3, "built", None)],
                     [(0, 0), (1, 0), (3, 0)])
    recording = Recording.from_events(events, environment={})
    instructions = recording.instructions.assign(origin_stage_index=pd.NA)
    # A repeated row, a row without an index and a negative index do not close the gap at 2.
    stages = pd.concat([recording.stages, recording.stages.iloc[[1, 1, 1]]], ignore_index=True)
    stages.loc[4, "stage_index"] = pd.NA
    stages.loc[5, "stage_index"] = -2

    filled = fill_origins(instructions, stages)

    assert list(filled["origin_stage_index"].iloc[:2]) == [0, 1]
    assert pd.isna(filled["origin_stage_index"].iloc[2])


def test_stage_gap_at_zero_without_indices() -> None:
    events = _events("a", [(0, "built", None)], [(0, 0)])
    recording = Recording.from_events(events, environment={})
    instructions = recording.instructions.assign(origin_stage_index=pd.NA)
    stages = recording.stages.assign(stage_index=pd.NA)

    filled = fill_origins(instructions, stages)

    assert filled["origin_stage_index"].isna().all()
