"""kaniko's OpenTelemetry traces (osscontainertools fork, v1.28.3 and later) as build runs.

kaniko exports one trace per build: a root `build` span whose children are flat,
with no span per stage. `Command` spans carry the stage index, instruction index,
Dockerfile line and cache decision as attributes. Every other span is placed in a
stage by its time: unpacking and base retrieval belong to the stage whose first
command follows them, snapshots and cache pushes to the command before them. A
`Total Push Time` span that lies inside a cache push is timed again by kaniko's
push code, so it becomes a child of that push. Each stage gets a derived `stage`
span from its first to its last non-push span, because kaniko records none.

A stage that lookahead eliminated, or that a squash merged into its child, runs no
command and so has no row unless the log of the same build is paired with the
trace. Neither does the trace name a stage's base. The stage an instruction is
written in (`origin_stage_index`) is therefore NA from the lowest stage index
that has no command up, because that stage may have been squashed into a later
one. A paired log distinguishes eliminated stages from squashed ones, so with
it only the stages from the lowest squashed one up keep NA.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from cachelab.events import SpanRecorded
from cachelab.ingest.errors import IngestError
from cachelab.ingest.kaniko_run import (
    INFER_FLAG,
    PROBE_AFTER_MISS_FLAG,
    KanikoInstruction,
    KanikoRun,
)
from cachelab.ingest.otlp import AttributeValue, OtlpSpan, read_trace_file

logger = logging.getLogger(__name__)

# kaniko span names and the phase each one records. Timers that kaniko does not
# export as spans are listed too, for traces of versions that do.
PHASE_BY_SPAN_NAME: dict[str, str] = {
    "build": "build",
    "Total Build Time": "build",
    "Command": "instruction",
    "Retrieving Source Image": "resolve-base",
    "Resolving Extra Stage Digests": "resolve-base",
    "Fetching Extra Stages": "download",
    "Downloading base image": "download",
    "Extracting Image to Dependency Dir": "unpack",
    "FS Unpacking": "unpack",
    "Execute": "execute",
    "Initial FS snapshot": "snapshot",
    "Snapshotting FS": "snapshot",
    "Writing tar file": "snapshot",
    "Walking filesystem with timeout": "snapshot",
    "Walking filesystem with Stat": "snapshot",
    "Hashing files": "hash-context",
    "Resolving Paths": "hash-context",
    "Pushing cached layer": "push-layer",
    "Pushing cache pointer": "push-pointer",
    "Saving stage": "save-stage",
    "Saving stage as tarball": "save-stage",
    "Total Push Time": "push-image",
}

# Spans that prepare the stage whose first command follows them.
_BEFORE_COMMANDS = frozenset({"FS Unpacking", "Retrieving Source Image", "Downloading base image"})
# Spans that finish the work of the command before them.
_AFTER_COMMAND = frozenset(
    {"Snapshotting FS", "Initial FS snapshot", "Pushing cached layer", "Pushing cache pointer", "Saving stage",
     "Saving stage as tarball"}
)
_CACHE_PUSHES = frozenset({"Pushing cached layer", "Pushing cache pointer"})
_PUSH_PHASES = frozenset({"push-layer", "push-pointer", "push-image"})


def read_kaniko_trace(path: str | Path) -> list[KanikoRun]:
    """Return one run per trace id in an OTLP trace file (JSON or protobuf)."""
    spans = read_trace_file(path)
    return runs_from_spans(spans, source=str(path))


def runs_from_spans(spans: Iterable[OtlpSpan], *, source: str) -> list[KanikoRun]:
    """Return one run per trace id, in the order the traces start.

    A span that arrives again with the same trace id and span id is dropped, with
    one warning that counts them, because an OTLP exporter sends a whole export
    again when its request timed out. A trace that cannot be read is logged and
    skipped, so the other builds are kept. Raises `IngestError` when no trace can
    be read.
    """
    by_trace, conflicts = _unique_spans_by_trace(spans, source)
    if not by_trace:
        raise IngestError(f"{source}: the trace has no spans", hint="Check that kaniko exported its trace.")

    runs: list[KanikoRun] = []
    errors: list[IngestError] = []
    for trace_id, trace_spans in by_trace.items():
        try:
            if trace_id in conflicts:
                raise IngestError(
                    f"{source}: {conflicts[trace_id]}",
                    hint="Ingest the spans of each export once, from one exporter.",
                )
            runs.append(_run_from_trace(trace_spans, source))
        except IngestError as exc:
            logger.warning("skipped build kaniko-%s: %s", trace_id, exc)
            errors.append(exc)
    if not runs:
        if len(errors) == 1:
            raise errors[0]
        raise IngestError(
            f"{source}: none of its {len(errors)} builds can be read. The first: {errors[0]}",
            hint=errors[0].hint,
        )
    return sorted(runs, key=lambda run: run.started_at or datetime.min.replace(tzinfo=UTC))


def _unique_spans_by_trace(
    spans: Iterable[OtlpSpan], source: str
) -> tuple[dict[str, list[OtlpSpan]], dict[str, str]]:
    """Group spans by trace id without repeated spans, and name each trace with conflicting ones.

    A repeated span counts as a resent copy when its name, parent and times are
    those of the first. Attributes are not compared, because the JSON and protobuf
    encodings of one span may decode them differently (an enum as name or number).
    """
    by_trace: dict[str, dict[str, OtlpSpan]] = defaultdict(dict)
    conflicts: dict[str, str] = {}
    duplicates = 0
    for span in spans:
        spans_of_trace = by_trace[span.trace_id]
        first = spans_of_trace.get(span.span_id)
        if first is None:
            spans_of_trace[span.span_id] = span
        elif _same_span(first, span):
            duplicates += 1
        else:
            conflicts.setdefault(
                span.trace_id,
                f"span {span.span_id} of trace {span.trace_id} occurs twice with different names or times",
            )
    if duplicates:
        logger.warning(
            "%s: dropped %d duplicate spans (same trace id and span id), as an exporter sends "
            "them when it repeats an export after a timeout",
            source, duplicates,
        )
    return {trace_id: list(unique.values()) for trace_id, unique in by_trace.items()}, conflicts


def _same_span(first: OtlpSpan, other: OtlpSpan) -> bool:
    return (first.name, first.parent_id, first.start_ns, first.end_ns) == (
        other.name, other.parent_id, other.start_ns, other.end_ns
    )


def _run_from_trace(spans: list[OtlpSpan], source: str) -> KanikoRun:
    trace_id = spans[0].trace_id
    roots = [span for span in spans if span.parent_id is None]
    root = next((span for span in roots if span.name == "build"), roots[0] if roots else None)
    origin_ns = root.start_ns if root is not None else min(span.start_ns for span in spans)
    attributes: dict[str, AttributeValue] = dict(spans[0].resource)
    if root is not None:
        attributes.update(root.attributes)

    run = KanikoRun(
        build_id=f"kaniko-{trace_id}",
        started_at=datetime.fromtimestamp(origin_ns / 1e9, UTC),
        engine_version=str(attributes.get("kaniko.version") or "unknown"),
        flags=_flags(attributes),
        dockerfile_id=str(attributes.get("kaniko.dockerfile") or "") or None,
        target=str(attributes.get("kaniko.target") or "") or None,
    )
    run.registry_counters = {
        key.removeprefix("kaniko.registry."): int(value)
        for key, value in attributes.items()
        if key.startswith("kaniko.registry.") and isinstance(value, int) and not isinstance(value, bool)
    }
    if root is not None and root.name == "build":
        run.wall_s = (root.end_ns - root.start_ns) / 1e9
        if root.status_code == "STATUS_CODE_ERROR":
            run.outcome = "error"
            run.error = root.status_message or "kaniko reported an error status"

    commands = sorted((s for s in spans if s.name == "Command"), key=lambda s: s.start_ns)
    run.cache_enabled = any("kaniko.cache.key" in s.attributes for s in commands)
    run.instructions = _instructions(commands, run)
    for instruction in run.instructions:
        run.stage(instruction.stage_index)
    _add_spans(run, spans, commands, origin_ns, root)
    logger.info(
        "%s: trace %s has %d spans, %d commands in %d stages",
        source, trace_id, len(spans), len(commands), len(run.stages),
    )
    return run


def _flags(attributes: dict[str, AttributeValue]) -> dict[str, str]:
    flags = {}
    for key, value in attributes.items():
        if key.startswith("kaniko.ff."):
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags["FF_KANIKO_" + key.removeprefix("kaniko.ff.")] = text
    return flags


def _int_attribute(span: OtlpSpan, key: str) -> int | None:
    value = span.attributes.get(key)
    if value is None or isinstance(value, (bool, list)):
        return None
    try:
        return int(value)
    except ValueError:
        raise IngestError(
            f"{span.name} span {span.span_id} has an invalid {key} attribute {value!r}",
            hint="Ingest the trace as kaniko exported it, where this attribute is a whole number.",
        ) from None


def _instructions(commands: list[OtlpSpan], run: KanikoRun) -> list[KanikoInstruction]:
    """Read the instruction rows from the `Command` spans.

    A `Command` span records whether its command was a cache hit, not whether the
    cache was probed. kaniko stops probing a stage after its first miss unless
    FF_KANIKO_CACHE_PROBE_AFTER_MISS is set, so a later command of that stage
    without a hit was not probed.
    """
    instructions = []
    missed_stages: set[int] = set()
    probe_after_miss = run.flag(PROBE_AFTER_MISS_FLAG)
    ordered = sorted(
        commands,
        key=lambda s: (_int_attribute(s, "kaniko.stage") or 0, _int_attribute(s, "kaniko.instruction.index") or 0),
    )
    positions: dict[int, int] = defaultdict(int)
    for span in ordered:
        stage_index = _int_attribute(span, "kaniko.stage")
        if stage_index is None:
            raise IngestError(
                f"Command span {span.span_id} has no kaniko.stage attribute",
                hint="Ingest traces of kaniko v1.28.3 or later, which tag every command with its stage.",
            )
        index = _int_attribute(span, "kaniko.instruction.index")
        if index is None:
            index = positions[stage_index]
        positions[stage_index] = index + 1
        text = str(span.attributes.get("kaniko.command", ""))
        key = span.attributes.get("kaniko.cache.key")
        instruction = KanikoInstruction(
            stage_index=stage_index,
            index=index,
            text=text,
            line=_int_attribute(span, "kaniko.instruction.line"),
            cache_key=str(key) if key else None,
        )
        hit = span.attributes.get("kaniko.cache.hit") is True
        if instruction.cache_key is None:
            instruction.decision = "not-probed"
        elif hit:
            instruction.decision, instruction.probed = "hit", True
        elif stage_index in missed_stages and not probe_after_miss:
            instruction.decision = "not-probed"
        else:
            instruction.decision, instruction.probed = "miss", True
            missed_stages.add(stage_index)
        instruction.key_source = _key_source(instruction, hit, run.flag(INFER_FLAG))
        instructions.append(instruction)
    return instructions


def _key_source(instruction: KanikoInstruction, hit: bool, inference: bool) -> str | None:
    if instruction.cache_key is None:
        return None
    if instruction.kind in ("COPY", "ADD"):
        # With inference on, a cross-stage COPY hits only through its pointer.
        if hit and inference and "--from=" in instruction.text:
            return "inferred"
        return "content"
    return "text"


def _add_spans(
    run: KanikoRun, spans: list[OtlpSpan], commands: list[OtlpSpan], origin_ns: int, root: OtlpSpan | None
) -> None:
    command_starts = [span.start_ns for span in commands]
    positions = {
        span.span_id: (_int_attribute(span, "kaniko.stage"), _int_attribute(span, "kaniko.instruction.index"))
        for span in commands
    }
    first_stage_ns = min(
        (s.start_ns for s in spans if s.name in ("Command", "FS Unpacking")), default=None
    )
    top_level = {root.span_id} if root is not None else set()
    top_level.update(s.span_id for s in spans if s.name == "Total Build Time")
    pushes = [s for s in spans if s.name in _CACHE_PUSHES]

    records: list[SpanRecorded] = []
    for span in spans:
        phase = PHASE_BY_SPAN_NAME.get(span.name)
        if phase is None:
            logger.debug("kaniko span %r has no known phase, so its name is the phase", span.name)
            phase = span.name
        parent_id = span.parent_id
        stage_index: int | None = None
        instruction_index: int | None = None
        if span.span_id in positions:
            stage_index, instruction_index = positions[span.span_id]
        elif span.parent_id in top_level or span.parent_id is None:
            if span.name == "Total Push Time":
                container = _containing_push(span, pushes)
                if container is not None:
                    parent_id, phase = container.span_id, PHASE_BY_SPAN_NAME[container.name]
            elif span.name in _BEFORE_COMMANDS and first_stage_ns is not None and span.start_ns >= first_stage_ns:
                following = bisect.bisect_left(command_starts, span.start_ns)
                if following < len(commands):
                    stage_index = positions[commands[following].span_id][0]
            elif span.name in _AFTER_COMMAND:
                preceding = _preceding_command(span, commands, command_starts)
                if preceding is not None:
                    stage_index, instruction_index = positions[preceding.span_id]
                    if span.name.startswith("Saving stage"):
                        instruction_index = None
        records.append(
            SpanRecorded(
                build_id=run.build_id,
                span_id=span.span_id,
                parent_id=parent_id,
                phase=phase,
                start_s=(span.start_ns - origin_ns) / 1e9,
                end_s=(span.end_ns - origin_ns) / 1e9,
                stage_index=stage_index,
                instruction_index=instruction_index,
            )
        )
        run.span_names[span.span_id] = span.name
        if span.name == "FS Unpacking" and stage_index is not None:
            run.stage(stage_index).unpacked = True

    for stage in run.stages.values():
        if stage.unpacked is None:
            stage.unpacked = False
    _mark_pushes(run, records)
    run.spans = _with_stage_spans(records, root.span_id if root is not None else None, top_level)


def _preceding_command(span: OtlpSpan, commands: list[OtlpSpan], starts: list[int]) -> OtlpSpan | None:
    """Return the command whose work `span` finishes.

    Cache pushes run in the background, so the next command may start before its
    predecessor's push does. A layer is pushed only for a command that did not hit,
    and a pointer only for a cross-stage COPY or ADD, so the latest earlier command
    of that kind is taken, and the latest earlier command otherwise.
    """
    earlier = commands[: bisect.bisect_right(starts, span.start_ns)]
    if not earlier:
        return None
    if span.name == "Pushing cached layer":
        candidates = [c for c in earlier if c.attributes.get("kaniko.cache.hit") is not True]
    elif span.name == "Pushing cache pointer":
        candidates = [c for c in earlier if _is_cross_stage_copy(str(c.attributes.get("kaniko.command", "")))]
    else:
        candidates = []
    return (candidates or earlier)[-1]


def _is_cross_stage_copy(text: str) -> bool:
    words = text.split()
    return bool(words) and words[0].upper() in ("COPY", "ADD") and any(w.startswith("--from=") for w in words)


def _mark_pushes(run: KanikoRun, records: list[SpanRecorded]) -> None:
    if not run.cache_enabled:
        return
    pushed: dict[str, set[tuple[int | None, int | None]]] = {"push-layer": set(), "push-pointer": set()}
    for record in records:
        if record.phase in pushed and run.span_names.get(record.span_id, "").startswith("Pushing"):
            pushed[record.phase].add((record.stage_index, record.instruction_index))
    for instruction in run.instructions:
        position = (instruction.stage_index, instruction.index)
        instruction.layer_pushed = position in pushed["push-layer"]
        instruction.pointer_pushed = position in pushed["push-pointer"]


def _containing_push(span: OtlpSpan, pushes: list[OtlpSpan]) -> OtlpSpan | None:
    inside = [p for p in pushes if p.start_ns <= span.start_ns and span.end_ns <= p.end_ns]
    return max(inside, key=lambda p: p.start_ns) if inside else None


def _with_stage_spans(records: list[SpanRecorded], root_id: str | None, top_level: set[str]) -> list[SpanRecorded]:
    """Add a derived `stage` span per stage and move the stage's top-level spans under it."""
    by_stage: dict[int, list[SpanRecorded]] = defaultdict(list)
    for record in records:
        if record.stage_index is not None and record.parent_id in top_level and record.phase not in _PUSH_PHASES:
            by_stage[record.stage_index].append(record)

    stage_ids: dict[int, str] = {}
    derived = []
    for stage_index, members in sorted(by_stage.items()):
        span_id = f"stage-{stage_index}"
        stage_ids[stage_index] = span_id
        derived.append(
            SpanRecorded(
                build_id=members[0].build_id,
                span_id=span_id,
                parent_id=root_id,
                phase="stage",
                start_s=min(m.start_s for m in members),
                end_s=max(m.end_s for m in members),
                stage_index=stage_index,
            )
        )
    moved = [
        SpanRecorded(
            build_id=r.build_id, span_id=r.span_id, parent_id=stage_ids[r.stage_index], phase=r.phase,
            start_s=r.start_s, end_s=r.end_s, stage_index=r.stage_index, instruction_index=r.instruction_index,
        )
        if r.stage_index in stage_ids and r.parent_id in top_level and r.phase not in _PUSH_PHASES
        else r
        for r in records
    ]
    return moved + derived
