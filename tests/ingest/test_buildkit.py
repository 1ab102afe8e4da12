"""BuildKit --progress=rawjson output to the four tables (constructed fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cachelab.ingest.buildkit import ingest_buildkit_progress, read_progress
from cachelab.ingest.errors import IngestError

PROGRESS = Path(__file__).parent / "data" / "buildkit-rawjson.jsonl"


def test_buildkit_vertex_updates_merge() -> None:
    vertexes = read_progress(PROGRESS.read_text().splitlines(), source="test")
    make = next(v for v in vertexes if v.name.endswith("RUN make -C /src"))

    assert len(vertexes) == 8
    assert make.started is not None and make.completed is not None
    assert (make.completed - make.started).total_seconds() == pytest.approx(2.48)
    assert make.log_bytes == len("make: Entering directory '/src'\n")


def test_buildkit_build_row() -> None:
    build = ingest_buildkit_progress([PROGRESS]).builds.iloc[0]

    assert build["engine"] == "buildkit"
    assert build["wall_s"] == pytest.approx(4.3)
    assert build["outcome"] == "error"
    assert "not found" in build["error"]
    assert build["bytes_downloaded"] == 3623807
    assert build["cache_hits"] == 1
    assert build["cache_misses"] == 2


def test_buildkit_stages_from_step_labels() -> None:
    stages = ingest_buildkit_progress([PROGRESS]).stages

    assert stages["stage_index"].tolist() == [0, 1]
    assert stages["stage_name"].iloc[0] == "builder"
    assert stages["stage_name"].isna().tolist() == [False, True]
    assert stages["base"].str.startswith("registry.test/library/alpine:3.20@sha256:").all()
    assert stages["wall_s"].tolist() == pytest.approx([4.2 - 0.91, 4.3 - 0.91])


def test_buildkit_instruction_decisions() -> None:
    instructions = ingest_buildkit_progress([PROGRESS]).instructions
    rows = list(instructions[["stage_index", "instruction_index", "kind", "decision"]].itertuples(
        index=False, name=None
    ))

    assert rows == [(0, 0, "RUN", "hit"), (0, 1, "RUN", "miss"), (1, 0, "COPY", "miss")]
    assert instructions["cache_key"].str.startswith("sha256:").all()
    assert instructions["wall_s"].tolist() == pytest.approx([0.0, 2.48, 0.09])


def test_buildkit_span_phases() -> None:
    spans = ingest_buildkit_progress([PROGRESS]).spans
    phases = dict(zip(spans["engine_name"], spans["phase"]))

    assert phases["[internal] load metadata for registry.test/library/alpine:3.20"] == "resolve-base"
    assert phases["[internal] load build context"] == "hash-context"
    assert phases["[builder 3/3] RUN make -C /src"] == "instruction"
    assert phases["extracting sha256:" + "cd" * 32] == "unpack"


def test_buildkit_capitalised_fields(tmp_path: Path) -> None:
    old = tmp_path / "old.jsonl"
    vertex = {"Digest": "sha256:" + "11" * 32, "Name": "[1/2] FROM registry.test/busybox",
              "Started": "2026-11-03T09:00:00Z", "Completed": "2026-11-03T09:00:01Z"}
    step = {"Digest": "sha256:" + "22" * 32, "Name": "[2/2] RUN true", "Cached": True,
            "Started": "2026-11-03T09:00:01Z", "Completed": "2026-11-03T09:00:01Z"}
    old.write_text(json.dumps({"Vertexes": [vertex, step]}) + "\n")

    recording = ingest_buildkit_progress([old])

    assert recording.instructions["decision"].tolist() == ["hit"]
    assert recording.stages["base"].tolist() == ["registry.test/busybox"]
    assert recording.builds.iloc[0]["wall_s"] == 1.0


def test_buildkit_invalid_line_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"vertexes": []}\nnot json\n')

    with pytest.raises(IngestError, match=r"broken.jsonl:2: invalid JSON"):
        ingest_buildkit_progress([broken])


def _progress_file(tmp_path: Path, names: list[str]) -> Path:
    """Write a rawjson file with one completed vertex per name, in order."""
    lines = []
    for number, name in enumerate(names, start=1):
        vertex = {"digest": f"sha256:{number:064x}", "name": name,
                  "started": f"2026-11-03T09:00:{number:02d}Z", "completed": f"2026-11-03T09:00:{number:02d}.5Z"}
        lines.append(json.dumps({"vertexes": [vertex]}))
    path = tmp_path / "progress.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


LABELS_WITH_NAMED_STAGE = [
    "[stage-1 1/2] FROM registry.test/busybox",
    "[stage-1 2/2] RUN touch /one",
    "[tools 1/2] FROM registry.test/busybox",
    "[tools 2/2] RUN touch /tool",
    "[stage-2 1/3] FROM registry.test/busybox",
    "[stage-2 2/3] COPY --from=tools /tool /tool",
    "[stage-2 3/3] RUN true",
]


def _origin_rows(recording: object) -> list[tuple[object, ...]]:
    instructions = recording.instructions  # type: ignore[attr-defined]
    columns = ["stage_index", "instruction_index", "instruction", "origin_stage_index", "origin_instruction_index"]
    return [
        tuple(None if value is pd.NA else value for value in row)
        for row in instructions[columns].itertuples(index=False, name=None)
    ]


def test_buildkit_origins_from_stage_labels(tmp_path: Path) -> None:
    # The unnamed stage 1 runs first, and the output does not give the named stage's position.
    path = _progress_file(tmp_path, LABELS_WITH_NAMED_STAGE)

    rows = _origin_rows(ingest_buildkit_progress([path]))

    assert rows == [
        (0, 0, "RUN touch /one", 1, 0),
        (1, 0, "RUN touch /tool", None, None),
        (2, 0, "COPY --from=tools /tool /tool", 2, 0),
        (2, 1, "RUN true", 2, 1),
    ]


def test_buildkit_single_stage_padded_steps(tmp_path: Path) -> None:
    names = ["[ 1/10] FROM registry.test/busybox"] + [f"[{n:2d}/10] RUN echo {n}" for n in range(2, 11)]
    recording = ingest_buildkit_progress([_progress_file(tmp_path, names)])
    instructions = recording.instructions

    assert recording.stages["stage_index"].tolist() == [0]
    assert recording.stages["base"].tolist() == ["registry.test/busybox"]
    assert instructions["instruction_index"].tolist() == list(range(9))
    assert instructions["origin_stage_index"].tolist() == [0] * 9
    assert instructions["origin_instruction_index"].tolist() == list(range(9))


def test_buildkit_padded_stage_label(tmp_path: Path) -> None:
    names = ["[stage-0  1/10] FROM registry.test/busybox", "[stage-0  2/10] RUN true", "[stage-0 10/10] RUN false"]
    recording = ingest_buildkit_progress([_progress_file(tmp_path, names)])

    assert recording.stages["stage_index"].tolist() == [0]
    assert recording.instructions["instruction_index"].tolist() == [0, 8]
    assert recording.instructions["origin_stage_index"].tolist() == [0, 0]


def test_buildkit_stage_without_from_step(tmp_path: Path) -> None:
    # `FROM stage-0` and `FROM scratch` get no FROM step, so step 1 is the first instruction.
    path = _progress_file(tmp_path, [
        "[stage-0 1/2] FROM registry.test/busybox",
        "[stage-0 2/2] RUN touch /a",
        "[stage-1 1/2] RUN touch /b",
        "[stage-1 2/2] RUN touch /c",
        "[stage-2 1/1] COPY --from=stage-1 /c /c",
    ])

    recording = ingest_buildkit_progress([path])
    rows = _origin_rows(recording)

    assert rows == [
        (0, 0, "RUN touch /a", 0, 0),
        (1, 0, "RUN touch /b", 1, 0),
        (1, 1, "RUN touch /c", 1, 1),
        (2, 0, "COPY --from=stage-1 /c /c", 2, 0),
    ]
    assert recording.stages["base"].isna().tolist() == [False, True, True]


def test_buildkit_fixture_named_stage_origin_na() -> None:
    instructions = ingest_buildkit_progress([PROGRESS]).instructions

    assert instructions["origin_stage_index"].isna().tolist() == [True, True, False]
    assert instructions["origin_stage_index"].iloc[2] == 1
    assert instructions["origin_instruction_index"].iloc[2] == 0


def test_buildkit_dockerfile_gives_named_stage_position(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM registry.test/busybox AS Tools\nRUN touch /tool\n"
        "FROM registry.test/busybox\nRUN touch /one\n"
        "FROM registry.test/busybox\nCOPY --from=tools /tool /tool\nRUN true\n"
    )
    path = _progress_file(tmp_path, LABELS_WITH_NAMED_STAGE)

    recording = ingest_buildkit_progress([path], dockerfile=dockerfile)

    assert _origin_rows(recording) == [
        (1, 0, "RUN touch /one", 1, 0),
        (0, 0, "RUN touch /tool", 0, 0),
        (2, 0, "COPY --from=tools /tool /tool", 2, 0),
        (2, 1, "RUN true", 2, 1),
    ]
    assert sorted(recording.stages["stage_index"]) == [0, 1, 2]


def test_buildkit_other_dockerfile_keeps_appearance_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM registry.test/busybox AS builder\nRUN true\n")
    path = _progress_file(tmp_path, LABELS_WITH_NAMED_STAGE)

    rows = _origin_rows(ingest_buildkit_progress([path], dockerfile=dockerfile))

    assert rows == _origin_rows(ingest_buildkit_progress([path]))
    assert "names no stage 'tools'" in caplog.text
