"""Byte columns of real per-stage and lookahead builds: 0 where nothing moved, never NA."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cachelab.record import Recording, schema
from tests.fixtures.builder import EXAMPLES, ExampleBuilder, build_text

pytestmark = pytest.mark.sandbox

BYTE_COLUMNS = list(schema.BYTE_COLUMNS)
# Phases for which the builder gives every span a byte count.
MEASURED_PHASES = ("download", "unpack", "hash-context", "snapshot", "push-layer")


@pytest.fixture(scope="module")
def fan_in_builds(image_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], Recording]:
    """A cold and a warm build of the fan-in example per strategy, each strategy with its own cache."""
    root = tmp_path_factory.mktemp("fan-in-bytes")
    recordings = {}
    for strategy in ("per-stage", "lookahead"):
        example = _copy_example(root / strategy, image_store)
        for step in (0, 1):
            built = example.build(strategy, step=step)
            recordings[(strategy, step)] = Recording.from_events(built.events, environment={})
    return recordings


def _copy_example(directory: Path, image_store: Path) -> ExampleBuilder:
    shutil.copytree(EXAMPLES / "fan-in", directory, symlinks=True)
    return ExampleBuilder(
        dockerfile=directory / "Dockerfile", context=directory / "context", image_store=image_store,
        cache=str(directory / "layer-cache"),
    )


BUILDS = [("per-stage", 0), ("per-stage", 1), ("lookahead", 0), ("lookahead", 1)]


@pytest.mark.parametrize("build", BUILDS, ids=lambda value: f"{value}")
@pytest.mark.parametrize("table", ["builds", "stages", "instructions"])
def test_byte_columns_never_na(fan_in_builds: dict[tuple[str, int], Recording], build: tuple[str, int],
                               table: str) -> None:
    frame = fan_in_builds[build].tables()[table]

    assert len(frame) > 0
    for column in BYTE_COLUMNS:
        assert frame[column].notna().all(), column


@pytest.mark.parametrize("build", BUILDS, ids=lambda value: f"{value}")
def test_build_totals_are_stage_sums(fan_in_builds: dict[tuple[str, int], Recording], build: tuple[str, int]) -> None:
    recording = fan_in_builds[build]
    row = recording.builds.iloc[0]

    for column in BYTE_COLUMNS:
        assert row[column] == recording.stages[column].sum(), column
    pushed_by_stage = recording.instructions.groupby("stage_index")["bytes_pushed"].sum()
    assert list(pushed_by_stage) == list(recording.stages.set_index("stage_index")["bytes_pushed"])


@pytest.mark.parametrize("build", BUILDS, ids=lambda value: f"{value}")
def test_measured_phase_spans_have_bytes(fan_in_builds: dict[tuple[str, int], Recording],
                                         build: tuple[str, int]) -> None:
    spans = fan_in_builds[build].spans

    for phase in MEASURED_PHASES:
        assert spans.loc[spans["phase"] == phase, "bytes"].notna().all(), phase
    copies = spans[(spans["phase"] == "execute") & spans["attributes"].str.contains('"COPY"', regex=False)]
    assert copies["bytes"].notna().all()


def test_lookahead_warm_moves_nothing(fan_in_builds: dict[tuple[str, int], Recording]) -> None:
    recording = fan_in_builds[("lookahead", 1)]
    build = recording.builds.iloc[0]
    eliminated = recording.stages[recording.stages["action"] == "eliminated"]
    skipped = recording.instructions[recording.instructions["decision"] == "skipped"]

    assert build["stages_eliminated"] == 3
    for column in BYTE_COLUMNS:
        assert build[column] == 0, column
        assert list(eliminated[column]) == [0, 0, 0], column
        assert list(skipped[column]) == [0] * len(skipped), column
    assert len(skipped) > 0


@pytest.mark.parametrize("build", BUILDS, ids=lambda value: f"{value}")
def test_phase_times_never_na(fan_in_builds: dict[tuple[str, int], Recording], build: tuple[str, int]) -> None:
    stages = fan_in_builds[build].stages

    for column in ["wall_s", *schema.PHASE_COLUMNS]:
        assert stages[column].notna().all(), column


def test_lookahead_warm_spends_no_phase_time(fan_in_builds: dict[tuple[str, int], Recording]) -> None:
    stages = fan_in_builds[("lookahead", 1)].stages
    eliminated = stages[stages["action"] == "eliminated"]

    # All hits: no stage executes, snapshots or pushes, and eliminated stages download nothing.
    for column in ("execute_s", "snapshot_s", "push_s"):
        assert list(stages[column]) == [0.0] * len(stages), column
    for column in ("download_s", "unpack_s", "save_s"):
        assert list(eliminated[column]) == [0.0] * len(eliminated), column


def test_per_stage_warm_pushes_nothing(fan_in_builds: dict[tuple[str, int], Recording]) -> None:
    recording = fan_in_builds[("per-stage", 1)]
    final = recording.stages.set_index("stage_index").loc[3]

    assert recording.builds["bytes_pushed"].iloc[0] == 0
    assert list(recording.stages["bytes_pushed"]) == [0, 0, 0, 0]
    assert recording.builds["bytes_downloaded"].iloc[0] > 0
    assert not final["unpacked"]
    assert final["bytes_unpacked"] == 0


def test_cold_builds_move_bytes(fan_in_builds: dict[tuple[str, int], Recording]) -> None:
    for strategy in ("per-stage", "lookahead"):
        build = fan_in_builds[(strategy, 0)].builds.iloc[0]
        for column in BYTE_COLUMNS:
            assert build[column] > 0, (strategy, column)


def test_pointer_spans_not_counted(fan_in_builds: dict[tuple[str, int], Recording]) -> None:
    # Lookahead's cold build stores pointers for the COPY --from of the final stage.
    recording = fan_in_builds[("lookahead", 0)]
    spans = recording.spans
    pointers = spans[spans["phase"] == "push-pointer"]
    final = recording.stages.set_index("stage_index").loc[3]
    layers_pushed = spans.loc[(spans["phase"] == "push-layer") & (spans["stage_index"] == 3), "bytes"].sum()

    assert set(pointers["stage_index"]) == {3}
    assert pointers["bytes"].isna().all()
    assert final["bytes_pushed"] == layers_pushed



def test_metadata_execute_moves_nothing(image_store: Path, tmp_path: Path) -> None:
    text = "FROM busybox\nENV GREETING=hi\nWORKDIR /app\nRUN echo $GREETING > /app/out\nCMD [\"cat\", \"/app/out\"]\n"
    _, events = build_text(tmp_path, image_store, text)
    spans = Recording.from_events(events, environment={}).spans
    executes = spans[spans["phase"] == "execute"]
    kinds = [json.loads(attributes)["kind"] for attributes in executes["attributes"]]
    moved = dict(zip(kinds, executes["bytes"], strict=True))

    assert kinds == ["ENV", "WORKDIR", "RUN", "CMD"]
    assert moved["ENV"] == 0
    assert moved["WORKDIR"] == 0
    assert moved["CMD"] == 0
    # The builder does not measure what a RUN command reads or writes.
    assert pd.isna(moved["RUN"])
