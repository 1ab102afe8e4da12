"""Byte columns of simulated per-stage and lookahead builds: 0 where nothing moved, never NA."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.model.costs import CostModel
from cachelab.model.events import BuildLabels, simulated_events
from cachelab.model.warm import warm_rebuild
from cachelab.record import Recording, schema

# FAN_IN has two producers whose outputs the final stage copies, so a warm lookahead build
# eliminates both.
from tests.model.test_model import FAN_IN, NOW, inputs_for

BYTE_COLUMNS = list(schema.BYTE_COLUMNS)

PROFILES = {"per-stage": "kaniko-copy", "lookahead": "kaniko-lookahead"}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], Recording]:
    inputs = inputs_for(FAN_IN, tmp_path_factory.mktemp("model-context"))
    recordings = {}
    for strategy, profile_name in PROFILES.items():
        rebuild = warm_rebuild(inputs, profile_name)
        for step, build in ((0, rebuild.cold), (1, rebuild.warm)):
            labels = BuildLabels(f"{strategy}-{step}", "run", "fan-in", "warm-unchanged", step, NOW)
            recordings[(strategy, step)] = Recording.from_events(simulated_events(build, labels), environment={})
    return recordings


@pytest.mark.parametrize("build", [("per-stage", 0), ("per-stage", 1), ("lookahead", 0), ("lookahead", 1)])
@pytest.mark.parametrize("table", ["builds", "stages", "instructions"])
def test_model_byte_columns_never_na(simulated: dict[tuple[str, int], Recording], build: tuple[str, int],
                                     table: str) -> None:
    frame = simulated[build].tables()[table]

    assert len(frame) > 0
    for column in BYTE_COLUMNS:
        assert frame[column].notna().all(), column


def test_model_eliminated_stages_move_nothing(simulated: dict[tuple[str, int], Recording]) -> None:
    recording = simulated[("lookahead", 1)]
    eliminated = recording.stages[recording.stages["action"] == "eliminated"]
    skipped = recording.instructions[recording.instructions["decision"] == "skipped"]

    assert len(eliminated) == 2
    assert len(skipped) > 0
    for column in BYTE_COLUMNS:
        assert list(eliminated[column]) == [0, 0], column
        assert list(skipped[column]) == [0] * len(skipped), column
    assert recording.builds["bytes_pushed"].iloc[0] == 0


def test_model_warm_per_stage_pushes_nothing(simulated: dict[tuple[str, int], Recording]) -> None:
    recording = simulated[("per-stage", 1)]

    assert list(recording.stages["bytes_pushed"]) == [0, 0, 0]
    assert recording.builds["bytes_downloaded"].iloc[0] > 0


def test_model_tables_survive_parquet(simulated: dict[tuple[str, int], Recording], tmp_path: Path) -> None:
    recording = simulated[("lookahead", 1)]
    recording.save(tmp_path)

    loaded = Recording.load(tmp_path)

    for column in BYTE_COLUMNS:
        assert list(loaded.stages[column]) == list(recording.stages[column]), column


def test_model_snapshot_spans_carry_bytes(simulated: dict[tuple[str, int], Recording]) -> None:
    costs = CostModel()
    spans = simulated[("per-stage", 0)].spans
    snapshots = spans[spans["phase"] == "snapshot"]

    assert snapshots["bytes"].notna().all()
    # Two context COPYs, two RUNs and two COPY --from, each snapshotted once.
    assert sorted(snapshots["bytes"]) == sorted(
        [costs.copy_context_bytes] * 2 + [costs.run_output_bytes] * 2 + [costs.copy_from_bytes] * 2
    )


def test_model_copy_execute_carries_bytes(simulated: dict[tuple[str, int], Recording]) -> None:
    costs = CostModel()
    recording = simulated[("per-stage", 0)]
    spans = recording.spans[recording.spans["phase"] == "execute"]
    kinds = recording.instructions.set_index(["stage_index", "instruction_index"])["kind"]
    spans = spans.assign(kind=[kinds[(s, i)] for s, i in zip(spans["stage_index"], spans["instruction_index"])])

    copies = spans[spans["kind"] == "COPY"]
    runs = spans[spans["kind"] == "RUN"]
    assert copies["bytes"].notna().all()
    assert sorted(copies["bytes"]) == sorted([costs.copy_context_bytes] * 2 + [costs.copy_from_bytes] * 2)
    # The builder does not measure what a RUN writes while it runs, and neither does the model.
    assert runs["bytes"].isna().all()
    assert len(runs) == 2
