"""BuildKit `--progress=rawjson` output as builds.

`docker buildx build --progress=rawjson` and `buildctl build --progress=rawjson`
print one `SolveStatus` JSON object per line: `vertexes` (digest, inputs, name,
started, completed, cached, error), `statuses` (progress of a vertex: id, name,
total, current, started, completed), `logs` (base64 output) and `warnings`. A
vertex appears again whenever its state changes, so the updates are merged by
digest. BuildKit before v0.11 wrote the field names capitalised (`Digest`); both
spellings are read.

Dockerfile steps are vertexes named `[STAGE N/M] INSTRUCTION`, or `[N/M] ...` in
a build with one stage; N is padded with spaces to the width of M. Step 1 is the
stage's FROM when its base is an image, and a stage built on `scratch` or on
another stage has no FROM step. The other steps become instruction rows, a
cached vertex a hit and any other one a miss. BuildKit reports no Dockerfile
lines. It gives a step only to RUN, COPY, ADD and WORKDIR, and to ONBUILD
triggers (checked against its source at commit 73ed6825), so it reports no ENV,
ARG, LABEL or other metadata instruction. `instruction_index` counts the steps
only.

STAGE is the stage's `AS` name, or `stage-N` for an unnamed stage, N being its
position in the Dockerfile. So the written stage (`origin_stage_index`) is N for
`stage-N` and 0 in a build with one stage, and then `origin_instruction_index`
is the step's position. A named stage's position is not in the output. Given
the build's Dockerfile, the reader takes it from there, and every stage's
`stage_index` is then its written position. Without it, stages are numbered in
order of appearance and a named stage's rows keep both origin columns NA, as do
rows of a multi-platform build, whose STAGE starts with the platform.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from cachelab.events import (
    BuildFinished,
    BuildStarted,
    Event,
    InstructionRecorded,
    SpanRecorded,
    StageRecorded,
)
from cachelab.ingest.errors import IngestError
from cachelab.ingest.recording import recording_from_events
from cachelab.ingest.timestamps import parse_time
from cachelab.record import Recording

logger = logging.getLogger(__name__)

ENGINE = "buildkit"
STRATEGY = "buildkit"

_STEP = re.compile(
    r"^\[(?:(?P<stage>[^\]\s][^\]]*?) +)? *(?P<step>\d+)/(?P<total>\d+)\] (?P<text>.*)$", re.DOTALL
)
_UNNAMED_STAGE = re.compile(r"^stage-(\d+)$")

# Vertex names outside the Dockerfile steps, by prefix, and their phase.
_PHASE_BY_PREFIX = (
    ("[internal] load metadata for ", "resolve-base"),
    ("[auth] ", "resolve-base"),
    ("resolve image config for ", "resolve-base"),
    ("[internal] load ", "hash-context"),
    ("importing cache manifest from ", "probe-cache"),
    ("exporting cache", "push-layer"),
    ("exporting to ", "push-image"),
    ("pushing ", "push-image"),
)


@dataclass
class Vertex:
    """One vertex with all its updates merged."""

    digest: str
    order: int
    name: str = ""
    started: datetime | None = None
    completed: datetime | None = None
    cached: bool = False
    error: str | None = None
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    log_bytes: int = 0


def read_progress(lines: Iterable[str], *, source: str) -> list[Vertex]:
    """Merge the SolveStatus lines into vertexes, in order of first appearance."""
    vertexes: dict[str, Vertex] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            status = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(
                f"{source}:{number}: invalid JSON: {exc.msg}",
                hint="Pass the output of a build run with --progress=rawjson.",
            ) from None
        if not isinstance(status, dict):
            raise IngestError(f"{source}:{number}: not a SolveStatus object", hint="Pass --progress=rawjson output.")
        for raw in _field(status, "vertexes") or []:
            _merge_vertex(vertexes, raw)
        for raw in _field(status, "statuses") or []:
            vertex = vertexes.get(str(_field(raw, "vertex")))
            if vertex is not None:
                _merge_status(vertex, raw)
        for raw in _field(status, "logs") or []:
            vertex = vertexes.get(str(_field(raw, "vertex")))
            if vertex is not None:
                vertex.log_bytes += len(base64.b64decode(_field(raw, "data") or ""))
    return sorted(vertexes.values(), key=lambda v: v.order)


def _decoded_lines(stream: BinaryIO, digest: hashlib._Hash, *, source: str) -> Iterator[str]:
    """Yield the UTF-8 lines of `stream` one at a time, feeding every byte to `digest`."""
    for number, raw in enumerate(stream, start=1):
        digest.update(raw)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise IngestError(
                f"{source}:{number}: not UTF-8 text, so not BuildKit progress output",
                hint="Pass the output of a build run with --progress=rawjson.",
            ) from None


def _field(raw: dict[str, Any], name: str) -> Any:
    if name in raw:
        return raw[name]
    return raw.get(name[:1].upper() + name[1:], raw.get(name.upper()))


def _merge_vertex(vertexes: dict[str, Vertex], raw: dict[str, Any]) -> None:
    digest = str(_field(raw, "digest"))
    vertex = vertexes.setdefault(digest, Vertex(digest, len(vertexes)))
    vertex.name = str(_field(raw, "name") or vertex.name)
    started = parse_time(str(_field(raw, "started") or ""))
    completed = parse_time(str(_field(raw, "completed") or ""))
    if started is not None and (vertex.started is None or started < vertex.started):
        vertex.started = started
    if completed is not None:
        vertex.completed = completed
    vertex.cached = vertex.cached or bool(_field(raw, "cached"))
    vertex.error = _field(raw, "error") or vertex.error


def _merge_status(vertex: Vertex, raw: dict[str, Any]) -> None:
    status_id = str(_field(raw, "id"))
    merged = vertex.statuses.setdefault(status_id, {"id": status_id})
    for key in ("name", "total", "current"):
        if _field(raw, key) is not None:
            merged[key] = _field(raw, key)
    started = parse_time(str(_field(raw, "started") or ""))
    completed = parse_time(str(_field(raw, "completed") or ""))
    if started is not None and merged.get("started") is None:
        merged["started"] = started
    if completed is not None:
        merged["completed"] = completed


def ingest_buildkit_progress(
    paths: Sequence[str | Path], *, run_id: str = "ingest", scenario: str | None = None,
    step: int | None = None, dockerfile: str | Path | None = None,
) -> Recording:
    """Return the tables of rawjson progress files, one build per file.

    `dockerfile`, the Dockerfile of every build, gives named stages their written position.
    """
    written = _written_positions(Path(dockerfile)) if dockerfile is not None else None
    events: list[Event] = []
    names: dict[tuple[str, str], str] = {}
    for path in paths:
        path = Path(path)
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            vertexes = read_progress(_decoded_lines(stream, digest, source=str(path)), source=str(path))
        build_id = "buildkit-" + digest.hexdigest()[:16]
        if not vertexes:
            raise IngestError(f"{path}: no vertexes in the progress output", hint="Pass --progress=rawjson output.")
        build_events, build_names = events_from_vertexes(
            vertexes, build_id=build_id, run_id=run_id, scenario=scenario, scenario_step=step,
            dockerfile_id=None, written=written,
        )
        events.extend(build_events)
        names.update(build_names)
        logger.info("%s: %d vertexes", path, len(vertexes))
    recording = recording_from_events(events, names)
    _clear_unknown_origins(recording, events)
    return recording


def _clear_unknown_origins(recording: Recording, events: list[Event]) -> None:
    """Set both origin columns to NA for the rows of stages whose position the output does not give.

    `Recording.from_events` takes `stage_index` as the written stage of a row
    without `origin_stage_index`, but this reader numbers named stages in order
    of appearance.
    """
    unknown = {
        (event.build_id, event.stage_index, event.instruction_index)
        for event in events
        if isinstance(event, InstructionRecorded) and event.origin_stage_index is None
    }
    instructions = recording.instructions
    keys = zip(instructions["build_id"], instructions["stage_index"], instructions["instruction_index"])
    mask = [key in unknown for key in keys]
    for column in ("origin_stage_index", "origin_instruction_index"):
        instructions[column] = instructions[column].mask(mask)


@dataclass
class _Step:
    vertex: Vertex
    stage_label: str | None
    step: int
    text: str

    @property
    def is_from(self) -> bool:
        return self.step == 1 and self.text.startswith("FROM ")


def events_from_vertexes(
    vertexes: list[Vertex], *, build_id: str, run_id: str, scenario: str | None, dockerfile_id: str | None,
    written: Mapping[str, int] | None = None, scenario_step: int | None = None,
) -> tuple[list[Event], dict[tuple[str, str], str]]:
    """Return the events of one build and BuildKit's name of each span."""
    starts = [v.started for v in vertexes if v.started is not None]
    ends = [v.completed for v in vertexes if v.completed is not None]
    origin = min(starts) if starts else None
    errors = [v.error for v in vertexes if v.error]
    events: list[Event] = [
        BuildStarted(
            build_id=build_id, run_id=run_id, engine=ENGINE, engine_version="unknown", strategy=STRATEGY,
            profile=None, flags=None, dockerfile_id=dockerfile_id, target=None,
            started_at=origin, scenario=scenario, step=scenario_step,
        )
    ]

    steps = [_step(v) for v in vertexes]
    stage_indices = _stage_indices([s for s in steps if s is not None], written)
    # Stages whose step 1 is their FROM, so that their first instruction is step 2.
    with_from = {s.stage_label for s in steps if s is not None and s.is_from}
    for label, index in stage_indices.items():
        from_step = next((s for s in steps if s is not None and s.stage_label == label and s.is_from), None)
        # NOTE: a stage built on scratch or on another stage has no FROM step, so its base is NA.
        base = from_step.text.removeprefix("FROM ").split()[0] if from_step is not None else None
        name = None if label is None or _UNNAMED_STAGE.match(label) else label
        events.append(
            StageRecorded(
                build_id=build_id, stage_index=index, stage_name=name, base=base,
                base_kind="image" if base is not None else None,
                action="built", unpacked=None, final_key=None, key_a_priori=None,
            )
        )
    positions = {}
    for step in steps:
        if step is None or step.is_from:
            continue
        # NOTE: BuildKit also counts a FROM step for an image without layers but
        # shows none, so that stage's positions come out one too high.
        position = step.step - (2 if step.stage_label in with_from else 1)
        positions[step.vertex.digest] = position
        events.append(_instruction(step, build_id, stage_indices[step.stage_label], position,
                                   origin=_written_stage(step.stage_label, written)))

    span_events, names = _spans(vertexes, steps, stage_indices, positions, build_id, origin)
    events.extend(span_events)
    if origin is not None and ends:
        events.append(
            BuildFinished(
                build_id=build_id, wall_s=(max(ends) - origin).total_seconds(),
                outcome="error" if errors else "ok", error=errors[0] if errors else None,
            )
        )
    return events, names


def _step(vertex: Vertex) -> _Step | None:
    match = _STEP.match(vertex.name)
    if match is None:
        return None
    return _Step(vertex, match["stage"], int(match["step"]), match["text"])


def _stage_indices(steps: list[_Step], written: Mapping[str, int] | None) -> dict[str | None, int]:
    """Number stages by their written position when `written` names them all, else by first appearance.

    NOTE: without the Dockerfile, BuildKit's labels give no position for a named
    stage, so stages are numbered in order of appearance, which can differ from
    their order in the Dockerfile.
    """
    labels: list[str | None] = []
    for step in steps:
        if step.stage_label not in labels:
            labels.append(step.stage_label)
    appearance: dict[str | None, int] = {label: index for index, label in enumerate(labels)}
    if written is None:
        return appearance
    positions = {label: _written_stage(label, written) for label in labels}
    unknown = [label for label, position in positions.items() if position is None]
    if unknown:
        # A multi-platform build's labels start with the platform, and another
        # Dockerfile names other stages: one numbering for all stages is kept.
        logger.warning("the Dockerfile names no stage %r of the progress output, so stages are numbered "
                       "in order of appearance", unknown[0])
        return appearance
    return {label: position for label, position in positions.items() if position is not None}


def _written_stage(label: str | None, written: Mapping[str, int] | None = None) -> int | None:
    """Return the Dockerfile position of the stage with step `label`, or None if neither gives it."""
    if label is None:
        return 0
    unnamed = _UNNAMED_STAGE.match(label)
    if unnamed is not None:
        return int(unnamed.group(1))
    return written.get(label.lower()) if written is not None else None


def _written_positions(dockerfile: Path) -> dict[str, int]:
    """Return the written position of every named stage of `dockerfile`, by lowercase name as BuildKit prints it."""
    from cachelab.dockerfile import DockerfileError, parse_dockerfile

    try:
        parsed = parse_dockerfile(dockerfile.read_text(encoding="utf-8"), str(dockerfile))
    except OSError as error:
        raise IngestError(f"cannot read the Dockerfile {dockerfile}: {error.strerror}",
                          hint="Check the path given with --dockerfile.") from error
    except DockerfileError as error:
        raise IngestError(str(error), hint="Pass the Dockerfile this build was made from.") from error
    return {stage.name.lower(): stage.index for stage in parsed.stages if stage.name}


def _instruction(
    step: _Step, build_id: str, stage_index: int, position: int, *, origin: int | None,
) -> InstructionRecorded:
    vertex = step.vertex
    if vertex.cached:
        decision = "hit"
    elif vertex.started is not None:
        decision = "miss"
    else:
        decision = "not-probed"
    return InstructionRecorded(
        build_id=build_id,
        stage_index=stage_index,
        instruction_index=position,
        line=None,
        instruction=step.text,
        kind=step.text.split(None, 1)[0].upper() if step.text else "",
        # The LLB vertex digest is what BuildKit's cache is keyed by for this step.
        cache_key=vertex.digest,
        key_source=None,
        redirect_key=None,
        probed=decision != "not-probed",
        decision=decision,
        a_priori=None,
        origin_stage_index=origin,
    )


def _phase(step: _Step | None, name: str) -> str:
    if step is not None:
        return "download" if step.is_from else "instruction"
    for prefix, phase in _PHASE_BY_PREFIX:
        if name.startswith(prefix):
            return phase
    return "execute"


def _spans(
    vertexes: list[Vertex], steps: list[_Step | None], stage_indices: dict[str | None, int],
    positions: dict[str, int], build_id: str, origin: datetime | None,
) -> tuple[list[SpanRecorded], dict[tuple[str, str], str]]:
    if origin is None:
        return [], {}
    spans: list[SpanRecorded] = []
    names: dict[tuple[str, str], str] = {}

    def seconds(moment: datetime) -> float:
        return (moment - origin).total_seconds()

    for vertex, step in zip(vertexes, steps):
        if vertex.started is None:
            continue
        end = vertex.completed or vertex.started
        phase = _phase(step, vertex.name)
        stage_index = stage_indices[step.stage_label] if step is not None else None
        instruction_index = positions.get(vertex.digest)
        children = [s for s in vertex.statuses.values() if s.get("started") is not None]
        downloaded = sum(int(s.get("total") or 0) for s in children if s["id"].startswith("sha256:"))
        spans.append(
            SpanRecorded(
                build_id=build_id, span_id=vertex.digest, parent_id=None, phase=phase,
                start_s=seconds(vertex.started), end_s=seconds(end), stage_index=stage_index,
                instruction_index=instruction_index,
                bytes=downloaded if phase == "download" and downloaded else None,
            )
        )
        names[(build_id, vertex.digest)] = vertex.name
        for status in children:
            status_name = str(status.get("name") or status["id"])
            child_phase = "unpack" if status_name.startswith("extracting") else phase
            span_id = f"{vertex.digest}/{status['id']}"
            spans.append(
                SpanRecorded(
                    build_id=build_id, span_id=span_id, parent_id=vertex.digest, phase=child_phase,
                    start_s=seconds(status["started"]), end_s=seconds(status.get("completed") or status["started"]),
                    stage_index=stage_index, instruction_index=instruction_index,
                )
            )
            names[(build_id, span_id)] = status_name
    return spans + _stage_spans(spans, build_id), names


def _stage_spans(spans: list[SpanRecorded], build_id: str) -> list[SpanRecorded]:
    """Return a derived `stage` span per stage, from its first vertex start to its last vertex end.

    BuildKit runs independent stages in parallel, so stage spans may overlap.
    """
    by_stage: dict[int, list[SpanRecorded]] = {}
    for span in spans:
        if span.stage_index is not None and span.parent_id is None:
            by_stage.setdefault(span.stage_index, []).append(span)
    return [
        SpanRecorded(
            build_id=build_id, span_id=f"stage-{index}", parent_id=None, phase="stage",
            start_s=min(s.start_s for s in members), end_s=max(s.end_s for s in members), stage_index=index,
        )
        for index, members in sorted(by_stage.items())
    ]
