"""`cachelab ingest` writes Parquet tables for every supported format."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.record import Recording

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("engine", "file", "builds", "instructions"),
    [
        ("kaniko-trace", "kaniko-classic-cold.otlp.json", 1, 5),
        ("kaniko-log", "kaniko-lookahead-warm.text.log", 1, 3),
        ("kaniko-benchmark", "kaniko-benchmark.json", 1, 0),
        ("buildkit", "buildkit-rawjson.jsonl", 1, 3),
    ],
)
def test_ingest_command_writes_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str, file: str, builds: int, instructions: int
) -> None:
    code = main(["ingest", engine, str(DATA / file), "--out", str(tmp_path), "--run-id", "r1", "--scenario", "s1"])

    assert code == 0
    assert f"wrote {builds} builds" in capsys.readouterr().out
    recording = Recording.load(tmp_path)
    assert len(recording.builds) == builds
    assert len(recording.instructions) == instructions
    assert recording.builds["run_id"].tolist() == ["r1"]
    assert recording.builds["scenario"].tolist() == ["s1"]


def test_ingest_command_pairs_trace_with_log(tmp_path: Path) -> None:
    code = main([
        "ingest", "kaniko-trace", str(DATA / "kaniko-classic-cold.otlp.json"),
        "--log", str(DATA / "kaniko-classic-cold.color.log"), "--out", str(tmp_path),
    ])

    assert code == 0
    stages = Recording.load(tmp_path).stages
    assert stages["base"].tolist() == ["registry.test/busybox:1"] * 3


def test_ingest_command_several_logs(tmp_path: Path) -> None:
    code = main([
        "ingest", "kaniko-log", str(DATA / "kaniko-classic-cold.color.log"),
        str(DATA / "kaniko-lookahead-warm.text.log"), str(DATA / "kaniko-error.json.log"), "--out", str(tmp_path),
    ])

    assert code == 0
    builds = Recording.load(tmp_path).builds
    assert builds["strategy"].tolist() == ["per-stage", "lookahead", "per-stage"]
    assert builds["outcome"].tolist() == ["ok", "ok", "error"]


def test_ingest_command_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ingest", "kaniko-log", str(tmp_path / "absent.log"), "--out", str(tmp_path / "out")])

    assert code == 1
    error = capsys.readouterr().err
    assert "file not found:" in error
    assert "absent.log" in error
    assert not (tmp_path / "out").exists()


def test_ingest_command_log_only_for_traces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = str(DATA / "kaniko-classic-cold.color.log")

    code = main(["ingest", "kaniko-log", log, "--log", log, "--out", str(tmp_path)])

    assert code == 1
    assert "--log applies to kaniko-trace only" in capsys.readouterr().err


def test_ingest_command_invalid_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ingest", "kaniko-benchmark", str(DATA / "kaniko-classic-cold.color.log"), "--out", str(tmp_path)])

    assert code == 1
    assert "not a kaniko BENCHMARK_FILE" in capsys.readouterr().err


def test_ingest_buildkit_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parquet = tmp_path / "builds.parquet"
    parquet.write_bytes(b"PAR1\x15\x04\x15\xc8\xff\xfe\x00\x00PAR1")

    code = main(["ingest", "buildkit", str(parquet), "--out", str(tmp_path / "out")])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: {parquet}:1: not UTF-8 text" in err
    assert "cachelab: hint: Pass the output of a build run with --progress=rawjson." in err


def test_ingest_command_shared_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    trace = str(DATA / "kaniko-classic-cold.otlp.json")

    code = main(["ingest", "kaniko-trace", trace, trace, "--out", str(tmp_path)])

    assert code == 0
    assert "wrote 1 builds, 3 stages, 5 instructions" in capsys.readouterr().out
    assert "2 trace files: dropped" in caplog.text
    assert len(Recording.load(tmp_path).builds) == 1


def test_ingest_command_skips_bad_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    trace = DATA / "kaniko-classic-cold.otlp.json"
    other = trace.read_text().replace("ASNFZ4mrze8BI0VniavN7w==", "fedcba9876543210fedcba9876543210")
    broken = tmp_path / "broken.json"
    broken.write_text(other.replace('"key": "kaniko.stage"', '"key": "kaniko.stage.renamed"'))

    code = main(["ingest", "kaniko-trace", str(trace), str(broken), "--out", str(tmp_path / "out")])

    assert code == 0
    assert "wrote 1 builds" in capsys.readouterr().out
    assert "skipped build kaniko-fedcba9876543210fedcba9876543210" in caplog.text
    assert Recording.load(tmp_path / "out").builds["build_id"].tolist() == [
        "kaniko-0123456789abcdef0123456789abcdef"
    ]


def test_ingest_buildkit_with_dockerfile(tmp_path: Path) -> None:
    # The fixture builds stage `builder`, then the unnamed stage 1 that copies from it.
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM registry.test/library/alpine:3.20 AS builder\nRUN apk add --no-cache make\nRUN make -C /src\n"
        "FROM registry.test/library/alpine:3.20\nCOPY --from=builder /src/app /app\n"
    )

    code = main(["ingest", "buildkit", str(DATA / "buildkit-rawjson.jsonl"), "--dockerfile", str(dockerfile),
                 "--out", str(tmp_path / "out")])

    instructions = Recording.load(tmp_path / "out").instructions
    assert code == 0
    assert instructions["origin_stage_index"].tolist() == [0, 0, 1]
    assert instructions["origin_instruction_index"].tolist() == [0, 1, 0]


def test_ingest_dockerfile_only_for_buildkit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ingest", "kaniko-log", str(DATA / "kaniko-lookahead-warm.text.log"),
                 "--dockerfile", str(DATA / "kaniko-lookahead-warm.text.log"), "--out", str(tmp_path)])

    assert code != 0
    assert "--dockerfile applies to buildkit only" in capsys.readouterr().err
