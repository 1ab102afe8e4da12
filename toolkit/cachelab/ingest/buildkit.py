"""BuildKit `--progress=rawjson` output as builds.

`docker buildx build --progress=rawjson` and `buildctl build --progress=rawjson`
print one `SolveStatus` JSON object per line: `vertexes` (digest, inputs, name,
started, completed, cached, error), `statuses` (progress of a vertex: id, name,
total, current, started, completed), `logs` (base64 output) and `warnings`. A
vertex appears again whenever its state changes, so the updates are merged by
digest. BuildKit before v0.11 wrote the field names capitalised (`Digest`); both
spellings are read.

Dockerfile steps are vertexes named `[STAGE N/M] INSTRUCTION`, or `[N/M] ...` in
a build with one stage. Step 1 is the stage's FROM; the others become instruction
rows, a cached vertex a hit and any other one a miss. BuildKit reports no
Dockerfile lines and no instructions without a vertex (ENV, LABEL, ...).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
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

_STEP = re.compile(r"^\[(?:(?P<stage>[^\]]*?) )?(?P<step>\d+)/(?P<total>\d+)\] (?P<text>.*)$", re.DOTALL)
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
    paths: Sequence[str | Path], *, run_id: str = "ingest", scenario: str | None = None
) -> Recording:
    """Return the tables of rawjson progress files, one build per file."""
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
        build_events, build_names = events_from_vertexes(vertexes, build_id=build_id, run_id=run_id,
                                                         scenario=scenario, dockerfile_id=None)
        events.extend(build_events)
        names.update(build_names)
        logger.info("%s: %d vertexes", path, len(vertexes))
    return recording_from_events(events, names)


@dataclass
class _Step:
    vertex: Vertex
    stage_label: str | None
    step: int
    text: str


def events_from_vertexes(
    vertexes: list[Vertex], *, build_id: str, run_id: str, scenario: str | None, dockerfile_id: str | None
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
            started_at=origin, scenario=scenario,
        )
    ]

    steps = [_step(v) for v in vertexes]
    stage_indices = _stage_indices([s for s in steps if s is not None])
    for label, index in stage_indices.items():
        from_step = next((s for s in steps if s is not None and s.stage_label == label and s.step == 1), None)
        base = from_step.text.removeprefix("FROM ").split()[0] if from_step is not None else None
        name = None if label is None or _UNNAMED_STAGE.match(label) else label
        events.append(
            StageRecorded(
                build_id=build_id, stage_index=index, stage_name=name, base=base,
                base_kind="image" if base is not None else None,
                action="built", unpacked=None, final_key=None, key_a_priori=None,
            )
        )
    for step in steps:
        if step is None or step.step == 1:
            continue
        events.append(_instruction(step, build_id, stage_indices[step.stage_label]))

    span_events, names = _spans(vertexes, steps, stage_indices, build_id, origin)
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


def _stage_indices(steps: list[_Step]) -> dict[str | None, int]:
    """Number stages by their first appearance in the progress stream.

    NOTE: BuildKit names a stage by its `AS` name, or `stage-N` for an unnamed one,
    so named stages get their position in the progress stream, which can differ
    from their position in the Dockerfile.
    """
    labels: list[str | None] = []
    for step in steps:
        if step.stage_label not in labels:
            labels.append(step.stage_label)
    return {label: index for index, label in enumerate(labels)}


def _instruction(step: _Step, build_id: str, stage_index: int) -> InstructionRecorded:
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
        instruction_index=step.step - 2,
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
    )


def _phase(step: _Step | None, name: str) -> str:
    if step is not None:
        return "download" if step.step == 1 else "instruction"
    for prefix, phase in _PHASE_BY_PREFIX:
        if name.startswith(prefix):
            return phase
    return "execute"


def _spans(
    vertexes: list[Vertex], steps: list[_Step | None], stage_indices: dict[str | None, int], build_id: str,
    origin: datetime | None,
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
        instruction_index = step.step - 2 if step is not None and step.step > 1 else None
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
