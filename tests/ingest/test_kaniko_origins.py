"""Where kaniko ingestion places instructions as written: known below the lowest squashed stage, NA above."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cachelab.ingest.kaniko import ingest_kaniko_logs, ingest_kaniko_traces
from cachelab.ingest.kaniko_log import run_from_log_lines
from cachelab.ingest.kaniko_run import KanikoInstruction, KanikoRun, KanikoStage
from cachelab.record import Recording

DATA = Path(__file__).parent / "data"

# A constructed color-format log of this Dockerfile, built without a cache:
#
#   FROM registry.test/busybox:1 AS tools
#   RUN echo a > /a
#   FROM registry.test/busybox:1 AS base
#   RUN echo b > /b
#   FROM base
#   COPY --from=tools /a /a
#   RUN cat /a /b
#
# `base` has one FROM dependent and no COPY dependent, so kaniko squashes it into
# the last stage, which runs `RUN echo b` first.
SQUASHING_LOG = """\
INFO[0000] Resolved base name of base to registry.test/busybox:1
INFO[0000] Squashing stages: (unnamed) into base
INFO[0000] Building stage 'registry.test/busybox:1' [idx: '0', base-idx: '-1']
INFO[0000] Unpacking rootfs as cmd RUN echo a > /a requires it.
INFO[0000] RUN echo a > /a
INFO[0001] Building stage 'registry.test/busybox:1' [idx: '2', base-idx: '-1']
INFO[0001] Unpacking rootfs as cmd RUN echo b > /b requires it.
INFO[0001] RUN echo b > /b
INFO[0001] COPY --from=0 /a /a
INFO[0001] RUN cat /a /b
INFO[0002] Skipping push to container registry due to --no-push flag
"""


def _instructions(recording: Recording) -> pd.DataFrame:
    return recording.instructions.sort_values(["stage_index", "instruction_index"]).reset_index(drop=True)


def test_squashing_log_origins(tmp_path: Path) -> None:
    log = tmp_path / "squashing.log"
    log.write_text(SQUASHING_LOG)

    recording = ingest_kaniko_logs([log])

    stages = recording.stages.set_index("stage_index")
    rows = _instructions(recording)
    assert stages.loc[1, "action"] == "squashed"
    assert list(rows["stage_index"]) == [0, 2, 2, 2]
    assert rows.loc[0, "origin_stage_index"] == 0
    assert rows.loc[0, "origin_instruction_index"] == 0
    assert rows.loc[1:, "origin_stage_index"].isna().all()
    assert rows.loc[1:, "origin_instruction_index"].isna().all()


def test_log_without_squash_origins() -> None:
    recording = ingest_kaniko_logs([DATA / "kaniko-classic-cold.color.log"])

    rows = _instructions(recording)
    assert len(rows) > 0
    assert list(rows["origin_stage_index"]) == list(rows["stage_index"])
    assert list(rows["origin_instruction_index"]) == list(rows["instruction_index"])


def test_eliminated_stages_keep_origins() -> None:
    # Eliminated stages run nothing elsewhere, so the built stage runs only its own commands.
    recording = ingest_kaniko_logs([DATA / "kaniko-lookahead-warm.text.log"])

    rows = _instructions(recording)
    assert set(recording.stages["action"]) == {"eliminated", "built"}
    assert list(rows["origin_stage_index"]) == [2, 2, 2]
    assert list(rows["origin_instruction_index"]) == [0, 1, 2]


def test_trace_without_log_origins() -> None:
    recording = ingest_kaniko_traces([DATA / "kaniko-classic-cold.otlp.json"])

    rows = _instructions(recording)
    assert sorted(set(rows["stage_index"])) == [0, 1, 2]
    assert list(rows["origin_stage_index"]) == list(rows["stage_index"])


@pytest.mark.parametrize(("stages", "expected"), [
    ({0: "built", 1: "built"}, None),
    ({0: "built", 1: "squashed", 2: "built"}, 1),
    ({0: "squashed", 1: "built"}, 0),
    ({0: "eliminated", 1: "eliminated", 2: "built"}, None),
    # A trace read without its log has no stage fact for stage 1.
    ({0: "built", 2: "built"}, 1),
    ({}, None),
])
def test_first_stage_with_foreign_commands(stages: dict[int, str], expected: int | None) -> None:
    run = KanikoRun(build_id="b", started_at=None)
    for index, action in stages.items():
        run.stages[index] = KanikoStage(index, action=action)
        if action == "built":
            run.instructions.append(KanikoInstruction(stage_index=index, index=0, text="RUN true"))

    assert run.first_stage_with_foreign_commands() == expected


def test_instructions_without_stage_facts() -> None:
    run = KanikoRun(build_id="b", started_at=None)
    run.instructions.append(KanikoInstruction(stage_index=0, index=0, text="RUN true"))

    assert run.first_stage_with_foreign_commands() == 0


def test_squashing_log_first_mixed_stage() -> None:
    run = run_from_log_lines(SQUASHING_LOG.splitlines(), build_id="b")

    assert run.stages[1].squashed_into == 2
    assert run.first_stage_with_foreign_commands() == 1
