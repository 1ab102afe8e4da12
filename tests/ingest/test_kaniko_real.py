"""Real kaniko v1.28.3 output (the shared reference folder): traces agree with logs.

Each build was run cold, then warm, against a fresh cache repository, in classic
mode (`--cache-copy-layers`) and with the lookahead flags. The tests skip when
the reference folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cachelab.ingest.kaniko import ingest_kaniko_logs, ingest_kaniko_traces
from cachelab.record import Recording

BUILDS = [
    (dockerfile, mode, cache)
    for dockerfile in ("seed", "big")
    for mode in ("classic-ccl", "lookahead")
    for cache in ("cold", "warm")
]
DECISION_COLUMNS = [
    "stage_index", "instruction_index", "instruction", "decision", "probed", "cache_key",
    "cache_layer_pushed", "cache_pointer_pushed",
]


@pytest.fixture(scope="module")
def kaniko_dir(shared: Path) -> Path:
    path = shared / "engines" / "kaniko"
    if not path.is_dir():
        pytest.skip(f"{path} is missing")
    return path


def _paths(kaniko_dir: Path, dockerfile: str, mode: str, cache: str) -> tuple[Path, Path]:
    stem = kaniko_dir / dockerfile / f"{mode}-{cache}"
    return stem.with_suffix(".otlp.json"), stem.with_suffix(".log")


@pytest.mark.parametrize(("dockerfile", "mode", "cache"), BUILDS)
def test_real_trace_and_log_same_decisions(kaniko_dir: Path, dockerfile: str, mode: str, cache: str) -> None:
    trace_path, log_path = _paths(kaniko_dir, dockerfile, mode, cache)
    trace = ingest_kaniko_traces([trace_path]).instructions
    log = ingest_kaniko_logs([log_path]).instructions

    # Keys of commands that were not probed come from the log's push lines.
    assert log[DECISION_COLUMNS].equals(trace[DECISION_COLUMNS])


@pytest.mark.parametrize(("dockerfile", "mode"), [(d, m) for d, m, c in BUILDS if c == "warm"])
def test_real_warm_builds_hit_everything(kaniko_dir: Path, dockerfile: str, mode: str) -> None:
    trace_path, log_path = _paths(kaniko_dir, dockerfile, mode, "warm")
    recording = ingest_kaniko_traces([trace_path], logs=[log_path])

    assert set(recording.instructions["decision"]) == {"hit"}
    assert recording.builds.iloc[0]["cache_misses"] == 0


def test_real_big_cold_lookahead_decisions(kaniko_dir: Path) -> None:
    trace_path, log_path = _paths(kaniko_dir, "big", "lookahead", "cold")
    instructions = ingest_kaniko_traces([trace_path], logs=[log_path]).instructions

    assert instructions["decision"].tolist() == ["miss", "miss", "not-probed", "miss", "not-probed"]
    assert instructions["line"].tolist() == [2, 5, 6, 9, 10]


def test_real_big_warm_lookahead_eliminates_first_stages(kaniko_dir: Path) -> None:
    trace_path, log_path = _paths(kaniko_dir, "big", "lookahead", "warm")
    from_log = ingest_kaniko_logs([log_path])
    merged = ingest_kaniko_traces([trace_path], logs=[log_path])

    for recording in (from_log, merged):
        assert recording.stages["action"].tolist() == ["eliminated", "eliminated", "built"]
        assert recording.builds.iloc[0]["stages_eliminated"] == 2
        assert recording.builds.iloc[0]["strategy"] == "lookahead"
    assert merged.stages["unpacked"].tolist()[2] is False
    assert set(merged.instructions["stage_index"]) == {2}


def test_real_big_warm_lookahead_copy_inferred(kaniko_dir: Path) -> None:
    trace_path, log_path = _paths(kaniko_dir, "big", "lookahead", "warm")
    copy = ingest_kaniko_traces([trace_path], logs=[log_path]).instructions.iloc[0]

    assert copy["instruction"] == "COPY --from=mid /small.txt /small.txt"
    assert copy["key_source"] == "inferred"
    # The pointer key differs from the layer key it points to.
    assert len(copy["redirect_key"]) == 64
    assert copy["redirect_key"] != copy["cache_key"]


def test_real_seed_warm_lookahead_squashes_base(kaniko_dir: Path) -> None:
    trace_path, log_path = _paths(kaniko_dir, "seed", "lookahead", "warm")
    recording = ingest_kaniko_traces([trace_path], logs=[log_path])
    stages = recording.stages.set_index("stage_index")

    assert stages.loc[0, "action"] == "squashed"
    assert stages.loc[1, "action"] == "built"
    assert recording.instructions["line"].tolist() == [2, 5, 6]


def test_real_cold_lookahead_pushes(kaniko_dir: Path) -> None:
    trace_path, log_path = _paths(kaniko_dir, "big", "lookahead", "cold")
    recording = ingest_kaniko_traces([trace_path], logs=[log_path])
    instructions = recording.instructions

    assert instructions["cache_layer_pushed"].tolist() == [True] * 5
    assert instructions["cache_pointer_pushed"].tolist() == [False, True, False, True, False]


def test_real_cold_classic_unpacks_every_stage(kaniko_dir: Path) -> None:
    trace_path, _ = _paths(kaniko_dir, "big", "classic-ccl", "cold")
    recording = ingest_kaniko_traces([trace_path])

    assert recording.stages["unpacked"].tolist() == [True, True, True]
    assert recording.builds.iloc[0]["kaniko_registry_sockets_opened"] > 0
    assert recording.builds.iloc[0]["strategy"] == "per-stage"
    assert (recording.stages["execute_s"] > 0).all()


def _sorted_instructions(recording: Recording) -> pd.DataFrame:
    return recording.instructions.sort_values(["stage_index", "instruction_index"]).reset_index(drop=True)


def test_real_squashed_warm_log_na(kaniko_dir: Path) -> None:
    # The warm lookahead build of a two-stage Dockerfile squashes stage 0 into stage 1.
    recording = ingest_kaniko_logs([_paths(kaniko_dir, "seed", "lookahead", "warm")[1]])

    rows = _sorted_instructions(recording)
    assert list(rows["stage_index"]) == [1, 1, 1]
    assert rows["origin_stage_index"].isna().all()


def test_real_trace_gap_na_until_log(kaniko_dir: Path) -> None:
    # In the warm lookahead build of three stages, stages 0 and 1 are eliminated.
    trace, log = _paths(kaniko_dir, "big", "lookahead", "warm")

    alone = _sorted_instructions(ingest_kaniko_traces([trace]))
    paired = _sorted_instructions(ingest_kaniko_traces([trace], logs=[log]))

    assert set(alone["stage_index"]) == {2}
    assert alone["origin_stage_index"].isna().all()
    assert list(paired["origin_stage_index"]) == [2] * len(paired)
    assert list(paired["origin_instruction_index"]) == list(paired["instruction_index"])


@pytest.mark.parametrize(("dockerfile", "mode", "cache"), BUILDS)
def test_real_info_log_failures_unknown(kaniko_dir: Path, dockerfile: str, mode: str, cache: str) -> None:
    # At info level a failed lookup prints the same line as a plain miss, and no push failed.
    _, log_path = _paths(kaniko_dir, dockerfile, mode, cache)
    build = ingest_kaniko_logs([log_path]).builds.iloc[0]

    assert pd.isna(build["cache_failures"])
    assert build["cache_push_errors"] == 0
