"""kaniko logs in the color, text and json formats to the four tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from cachelab.ingest.errors import IngestError
from cachelab.ingest.kaniko import ingest_kaniko_logs, ingest_kaniko_traces
from cachelab.ingest.kaniko_log import read_kaniko_log, run_from_log_lines
from cachelab.ingest.kaniko_log_lines import parse_line, read_records

DATA = Path(__file__).parent / "data"
COLOR_LOG = DATA / "kaniko-classic-cold.color.log"
TEXT_LOG = DATA / "kaniko-lookahead-warm.text.log"
JSON_LOG = DATA / "kaniko-error.json.log"


def test_log_line_formats_give_same_record() -> None:
    message = "Building stage 'busybox' [idx: '0', base-idx: '-1']"
    color = parse_line(f"INFO[0012] {message:<44} ", 1)
    text = parse_line(f'time="2026-11-02T10:00:00Z" level=info msg="{message}"', 1)
    encoded = parse_line(json.dumps({"level": "info", "msg": message, "time": "2026-11-02T10:00:00Z"}), 1)

    assert color is not None
    assert text is not None
    assert encoded is not None
    assert color.message == text.message == encoded.message == message
    assert color.level == text.level == encoded.level == "info"
    assert color.elapsed_s == 12.0
    assert text.time == encoded.time == datetime(2026, 11, 2, 10, tzinfo=UTC)


def test_log_ansi_codes_stripped() -> None:
    records = list(read_records(["\x1b[33mWARN\x1b[0m[0001] Error uploading layer to cache: x"]))

    assert [(r.level, r.message) for r in records] == [("warning", "Error uploading layer to cache: x")]


def test_log_timestamp_bracket_and_nanoseconds() -> None:
    record = parse_line("INFO[2026-11-02T10:00:00.123456789Z] hello", 3)

    assert record is not None
    assert record.time == datetime(2026, 11, 2, 10, 0, 0, 123456, tzinfo=UTC)
    assert record.line == 3


def test_log_command_output_skipped() -> None:
    assert parse_line("50+0 records in", 1) is None
    assert parse_line("-rw-r--r--    1 root     root    0 /blubb", 1) is None


def test_log_logfmt_unquotes_escapes() -> None:
    record = parse_line(r'time="2026-11-02T10:00:00Z" level=info msg="ENV B=\"quoted \\ value\""', 1)

    assert record is not None
    assert record.message == 'ENV B="quoted \\ value"'


def test_color_log_decisions() -> None:
    instructions = ingest_kaniko_logs([COLOR_LOG]).instructions
    rows = list(instructions[["stage_index", "instruction_index", "kind", "decision", "probed"]].itertuples(
        index=False, name=None
    ))

    assert rows == [
        (0, 0, "RUN", "miss", True),
        (1, 0, "COPY", "hit", True),
        (1, 1, "RUN", "hit", True),
        (2, 0, "COPY", "miss", True),
        (2, 1, "ENV", "not-probed", False),
    ]
    assert instructions["cache_key"].str[:8].tolist()[:4] == ["0debc3f6", "faf29719", "a5cd2d46", "e5ff527e"]
    assert pd.isna(instructions["cache_key"].iloc[4])


def test_color_log_pushes() -> None:
    recording = ingest_kaniko_logs([COLOR_LOG])
    instructions = recording.instructions

    assert instructions["cache_layer_pushed"].tolist() == [True, False, False, True, False]
    assert instructions["cache_pointer_pushed"].tolist() == [False] * 5
    assert recording.builds.iloc[0]["cache_push_errors"] == 1


def test_trace_pushes_match_color_log() -> None:
    trace = ingest_kaniko_traces([DATA / "kaniko-classic-cold.otlp.json"]).instructions
    log = ingest_kaniko_logs([COLOR_LOG]).instructions

    assert trace["cache_layer_pushed"].tolist() == log["cache_layer_pushed"].tolist()
    assert pd.isna(ingest_kaniko_traces([DATA / "kaniko-classic-cold.otlp.json"]).builds.iloc[0]["cache_push_errors"])


def test_lookahead_warm_log_pushes_nothing() -> None:
    instructions = ingest_kaniko_logs([TEXT_LOG]).instructions

    assert instructions["cache_layer_pushed"].tolist() == [False, False, False]


def test_color_log_stages_and_timing() -> None:
    recording = ingest_kaniko_logs([COLOR_LOG])
    stages = recording.stages
    build = recording.builds.iloc[0]

    assert stages["base"].tolist() == ["registry.test/busybox:1"] * 3
    assert stages["base_kind"].tolist() == ["image"] * 3
    assert stages["unpacked"].tolist() == [True, False, True]
    assert build["strategy"] == "per-stage"
    assert build["flags"] == "FF_KANIKO_BUILDKIT_ARG_ENV_PRECEDENCE=true\nFF_KANIKO_NO_PROPAGATE_ANNOTATIONS=true"
    assert build["wall_s"] == 1.0
    assert pd.isna(build["started_at"])


def test_color_log_agrees_with_trace() -> None:
    trace = ingest_kaniko_traces([DATA / "kaniko-classic-cold.otlp.json"]).instructions
    log = ingest_kaniko_logs([COLOR_LOG]).instructions
    columns = ["stage_index", "instruction_index", "instruction", "decision", "probed"]

    assert log[columns].equals(trace[columns])
    probed = trace["probed"]
    assert log.loc[probed, "cache_key"].tolist() == trace.loc[probed, "cache_key"].tolist()


def test_lookahead_log_eliminated_stages() -> None:
    stages = ingest_kaniko_logs([TEXT_LOG]).stages

    assert stages["action"].tolist() == ["eliminated", "eliminated", "built"]
    assert stages["unpacked"].tolist()[2] is False


def test_lookahead_log_counts_build_pass_once() -> None:
    recording = ingest_kaniko_logs([TEXT_LOG])
    instructions = recording.instructions
    build = recording.builds.iloc[0]

    assert instructions["instruction"].tolist() == [
        "COPY --from=tools /one /two", "ENV A=1", 'ENV B="quoted \\ value"',
    ]
    assert instructions["decision"].tolist() == ["hit", "not-probed", "not-probed"]
    assert build["cache_hits"] == 1
    assert build["stages_eliminated"] == 2
    assert build["strategy"] == "lookahead"


def test_lookahead_log_memo_hit_takes_precomputed_key() -> None:
    copy = ingest_kaniko_logs([TEXT_LOG]).instructions.iloc[0]

    assert copy["cache_key"].startswith("dddd")
    assert copy["redirect_key"] == "2" * 64
    assert copy["key_source"] == "inferred"


def test_lookahead_log_stage_span() -> None:
    recording = ingest_kaniko_logs([TEXT_LOG])
    stages = recording.stages.set_index("stage_index")

    assert recording.spans["phase"].tolist() == ["stage"]
    assert stages.loc[2, "wall_s"] == pytest.approx(1.625 - 0.4)
    # Eliminated stages took no time of their own.
    assert stages.loc[0, "wall_s"] == 0.0
    assert stages.loc[1, "wall_s"] == 0.0


def test_color_log_whole_seconds_no_spans() -> None:
    assert ingest_kaniko_logs([COLOR_LOG]).spans.empty


def test_lookahead_log_subsecond_wall_time() -> None:
    build = ingest_kaniko_logs([TEXT_LOG]).builds.iloc[0]

    assert build["wall_s"] == pytest.approx(1.5)
    assert build["started_at"] == pd.Timestamp("2026-11-02T10:00:00.125Z")


def test_json_log_fatal_error() -> None:
    recording = ingest_kaniko_logs([JSON_LOG])
    build = recording.builds.iloc[0]
    stage = recording.stages.iloc[0]

    assert build["outcome"] == "error"
    assert build["error"].startswith("error building image: ")
    assert build["wall_s"] == 3.0
    assert stage["base_kind"] == "scratch"
    assert recording.instructions["decision"].tolist() == ["miss"]
    assert recording.instructions["key_source"].tolist() == ["content"]


def test_log_squash_marks_absorbed_stage() -> None:
    lines = [
        "INFO[0000] Squashing stages: final into base",
        "INFO[0000] Building stage 'busybox:1' [idx: '1', base-idx: '-1']",
        "INFO[0000] RUN touch /a",
        "INFO[0001] RUN ls /a",
    ]
    run = run_from_log_lines(lines, build_id="squash")

    assert run.stages[0].action == "squashed"
    assert run.stages[0].squashed_into == 1
    assert [i.index for i in run.instructions] == [0, 1]


def test_log_without_stage_line_one_stage() -> None:
    lines = [
        "INFO[0000] Checking for cached layer registry.test/cache:" + "ab" * 32 + "...",
        "INFO[0000] Using caching version of cmd: RUN make",
        "INFO[0000] RUN make",
        "INFO[0001] COPY out /out",
    ]
    run = run_from_log_lines(lines, build_id="single")

    assert list(run.stages) == [0]
    assert [(i.index, i.decision) for i in run.instructions] == [(0, "hit"), (1, "not-probed")]
    assert run.instructions[0].cache_key == "ab" * 32


def test_log_without_records_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("plain output\n")

    with pytest.raises(IngestError, match="no kaniko log lines found"):
        read_kaniko_log(empty)


def test_log_build_id_from_content() -> None:
    first = read_kaniko_log(COLOR_LOG)
    again = read_kaniko_log(COLOR_LOG)
    other = read_kaniko_log(TEXT_LOG)

    assert first.build_id == again.build_id
    assert first.build_id != other.build_id
    assert first.build_id.startswith("kaniko-log-")
