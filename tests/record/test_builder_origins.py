"""Instruction keys and stage counts of real builds that squash stages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cachelab.record import Recording
from tests.fixtures.builder import EXAMPLES, ExampleBuilder

pytestmark = pytest.mark.sandbox

ORIGIN_KEY = ["origin_stage_index", "origin_instruction_index"]
STAGE_COUNTS = ["stages_built", "stages_eliminated", "stages_squashed", "stages_unused"]


def _example(name: str, directory: Path, image_store: Path) -> ExampleBuilder:
    shutil.copytree(EXAMPLES / name, directory, symlinks=True)
    return ExampleBuilder(
        dockerfile=directory / "Dockerfile", context=directory / "context", image_store=image_store,
        cache=str(directory / "layer-cache"),
    )


@pytest.fixture(scope="module")
def two_stage(image_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recording]:
    """A cold and a warm lookahead build of the two-stage example; the warm one squashes `base`."""
    example = _example("two-stage", tmp_path_factory.mktemp("two-stage") / "example", image_store)
    recordings = {}
    for step, name in enumerate(("cold", "warm")):
        built = example.build("lookahead", step=step)
        recordings[name] = Recording.from_events(built.events, environment={})
    return recordings


def test_warm_build_moves_base_instructions(two_stage: dict[str, Recording]) -> None:
    cold = two_stage["cold"].instructions
    warm = two_stage["warm"].instructions

    assert list(cold["stage_index"]) == [0, 1, 1]
    assert list(warm["stage_index"]) == [1, 1, 1]
    assert list(cold["origin_stage_index"]) == [0, 1, 1]
    assert list(warm["origin_stage_index"]) == [0, 1, 1]
    assert list(warm["origin_instruction_index"]) == [0, 0, 1]


def test_origin_key_joins_cold_and_warm(two_stage: dict[str, Recording]) -> None:
    columns = [*ORIGIN_KEY, "instruction", "decision"]
    joined = two_stage["cold"].instructions[columns].merge(
        two_stage["warm"].instructions[columns], on=ORIGIN_KEY, suffixes=("_cold", "_warm")
    )

    assert len(joined) == 3
    assert list(joined["instruction_cold"]) == list(joined["instruction_warm"])
    assert list(joined["decision_warm"]) == ["hit", "hit", "hit"]


@pytest.mark.parametrize("build", ["cold", "warm"])
def test_stage_counts_add_up(two_stage: dict[str, Recording], build: str) -> None:
    row = two_stage[build].builds.iloc[0]

    assert row["stages_total"] == 2
    assert sum(row[column] for column in STAGE_COUNTS) == row["stages_total"]


def test_warm_build_counts_squashed_stage(two_stage: dict[str, Recording]) -> None:
    row = two_stage["warm"].builds.iloc[0]

    assert row["stages_built"] == 1
    assert row["stages_squashed"] == 1


def test_from_chain_keeps_written_positions(image_store: Path, tmp_path: Path) -> None:
    # kaniko squashes the whole FROM chain into the last stage in every build.
    example = _example("from-chain", tmp_path / "example", image_store)
    recording = Recording.from_events(example.build("per-stage").events, environment={})
    instructions = recording.instructions

    assert list(instructions["stage_index"]) == [2] * 6
    assert list(instructions["origin_stage_index"]) == [0, 1, 1, 2, 2, 2]
    assert list(instructions["origin_instruction_index"]) == [0, 0, 1, 0, 1, 2]
    assert recording.builds["stages_squashed"].iloc[0] == 2
    assert recording.builds["stages_built"].iloc[0] == 1
