"""Read kaniko traces, logs and benchmark files into a `Recording`."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from cachelab.ingest.errors import IngestError
from cachelab.ingest.kaniko_benchmark import read_benchmark_file
from cachelab.ingest.kaniko_log import read_kaniko_log
from cachelab.ingest.kaniko_pairing import check_log_matches_trace
from cachelab.ingest.kaniko_run import KanikoRun
from cachelab.ingest.kaniko_trace import runs_from_spans
from cachelab.ingest.otlp import OtlpSpan, read_trace_file
from cachelab.ingest.recording import add_columns, recording_from_events
from cachelab.record import Recording, concat
from cachelab.record.errors import EventStreamError

logger = logging.getLogger(__name__)


def ingest_kaniko_traces(
    paths: Sequence[str | Path],
    *,
    logs: Sequence[str | Path] = (),
    run_id: str = "ingest",
    scenario: str | None = None,
    step: int | None = None,
) -> Recording:
    """Return the tables of every build in kaniko OTLP trace files.

    The spans of all files are read together, so a build whose exports are
    spread over several files, or repeated in them, becomes one build. `logs`,
    when given, pairs with `paths` in order: each log is read as the same build
    and supplies the stage facts a trace lacks (bases, eliminated and squashed
    stages) and the inferred keys kaniko looked pointers up with. A build that
    cannot be read is logged and skipped.
    """
    if logs and len(logs) != len(paths):
        raise IngestError(
            f"{len(logs)} logs for {len(paths)} traces",
            hint="Pass one log per trace, in the same order, or none.",
        )
    spans: list[OtlpSpan] = []
    # The trace file and the log of each build that has a log.
    log_by_build: dict[str, tuple[str | Path, str | Path]] = {}
    for position, path in enumerate(paths):
        file_spans = read_trace_file(path)
        if logs:
            trace_ids = {span.trace_id for span in file_spans}
            if len(trace_ids) != 1:
                raise IngestError(
                    f"{path}: contains {len(trace_ids)} builds, so a log cannot be matched to one of them",
                    hint="Pair a log only with a trace file of a single build.",
                )
            # A second file of the same build keeps the log paired with the first.
            log_by_build.setdefault(f"kaniko-{trace_ids.pop()}", (path, logs[position]))
        spans.extend(file_spans)

    source = str(paths[0]) if len(paths) == 1 else f"{len(paths)} trace files"
    runs = runs_from_spans(spans, source=source)
    for run in runs:
        paired = log_by_build.get(run.build_id)
        if paired is not None:
            trace_path, log = paired
            log_run = read_kaniko_log(log)
            check_log_matches_trace(run, log_run, trace_path=trace_path, log_path=log)
            run.take_stages_from(log_run)
            # The trace has no span for a failed cache operation.
            run.cache_push_errors = log_run.cache_push_errors
            run.cache_failures = log_run.cache_failures
    return recording_from_runs(runs, run_id=run_id, scenario=scenario, step=step)


def ingest_kaniko_logs(
    paths: Sequence[str | Path], *, run_id: str = "ingest", scenario: str | None = None, step: int | None = None
) -> Recording:
    """Return the tables of the builds in kaniko log files, one build per file.

    Most kaniko logs stamp whole seconds, so their `wall_s` is too (see
    `cachelab.ingest.kaniko_log`).
    """
    runs = [read_kaniko_log(path) for path in paths]
    return recording_from_runs(runs, run_id=run_id, scenario=scenario, step=step)


def ingest_kaniko_benchmarks(
    paths: Sequence[str | Path], *, run_id: str = "ingest", scenario: str | None = None, step: int | None = None
) -> Recording:
    """Return one builds row per BENCHMARK_FILE, with a seconds column per timer category."""
    benchmarks = [read_benchmark_file(path) for path in paths]
    recording = recording_from_runs([b.run for b in benchmarks], run_id=run_id, scenario=scenario, step=step)
    names = sorted({column for b in benchmarks for column in b.columns})
    by_build = {b.run.build_id: b.columns for b in benchmarks}
    columns: dict[str, list[object]] = {
        name: [by_build[build_id].get(name) for build_id in recording.builds["build_id"]] for name in names
    }
    add_columns(recording, "builds", columns, "Float64")
    return recording


def recording_from_runs(
    runs: Sequence[KanikoRun], *, run_id: str, scenario: str | None, step: int | None = None
) -> Recording:
    """Return the tables of `runs` with kaniko's extra columns.

    The spans' `engine_name` is kaniko's span name. The instructions'
    `cache_layer_pushed` and `cache_pointer_pushed` record whether kaniko pushed a
    layer or a pointer for the command. The builds' `cache_push_errors` counts
    kaniko's `Error uploading layer to cache` warnings, one per stage with a
    failed push (a log reports them, a trace does not). A log also sets
    `cache_failures` where it shows the failures (see `cachelab.ingest.kaniko_log`).
    A trace adds one `kaniko_registry_<counter>` builds column per registry
    counter of its build span, such as `kaniko_registry_requests`.

    Each build becomes tables on its own, so a build whose events contradict each
    other is logged and skipped and the others are kept. A build read twice keeps
    its first reading. Raises `IngestError` when `runs` is not empty and no build
    is left.
    """
    tabulated = _tabulated_runs(runs, run_id=run_id, scenario=scenario, step=step)
    recording = concat(tables for _, tables in tabulated) if tabulated else recording_from_events([])
    kept_runs = [run for run, _ in tabulated]

    instructions = {
        (run.build_id, i.stage_index, i.index): i for run in kept_runs for i in run.instructions
    }
    keys = list(zip(
        recording.instructions["build_id"],
        recording.instructions["stage_index"],
        recording.instructions["instruction_index"],
    ))
    add_columns(recording, "instructions", {
        "cache_layer_pushed": [instructions[key].layer_pushed for key in keys],
        "cache_pointer_pushed": [instructions[key].pointer_pushed for key in keys],
    }, "boolean")
    errors = {run.build_id: run.cache_push_errors for run in kept_runs}
    build_ids = list(recording.builds["build_id"])
    add_columns(recording, "builds", {"cache_push_errors": [errors[build_id] for build_id in build_ids]}, "Int64")
    failures = {run.build_id: run.cache_failures for run in kept_runs}
    shown = recording.builds["build_id"].map(failures).astype("Int64")
    recording.builds["cache_failures"] = shown.fillna(recording.builds["cache_failures"])

    counters = {run.build_id: run.registry_counters for run in kept_runs}
    counter_names = sorted({name for run in kept_runs for name in run.registry_counters})
    add_columns(recording, "builds", {
        "kaniko_registry_" + re.sub(r"[^0-9a-z]+", "_", name.lower()): [
            counters[build_id].get(name) for build_id in build_ids
        ]
        for name in counter_names
    }, "Int64")
    return recording


def _tabulated_runs(
    runs: Sequence[KanikoRun], *, run_id: str, scenario: str | None, step: int | None
) -> list[tuple[KanikoRun, Recording]]:
    """Build the tables of each run on its own, skipping contradictory and repeated builds."""
    tabulated: list[tuple[KanikoRun, Recording]] = []
    seen: set[str] = set()
    errors: list[EventStreamError] = []
    for run in runs:
        if run.build_id in seen:
            logger.warning("skipped a second reading of build %s: the first one is kept", run.build_id)
            continue
        names = {(run.build_id, span_id): name for span_id, name in run.span_names.items()}
        try:
            recording = recording_from_events(run.events(run_id=run_id, scenario=scenario, step=step), names)
        except EventStreamError as exc:
            # The hint of the record layer addresses an event emitter, not the user of an ingester.
            logger.warning("skipped build %s: %s", run.build_id, exc)
            errors.append(exc)
            continue
        seen.add(run.build_id)
        tabulated.append((run, recording))
    if errors and not tabulated:
        raise IngestError(
            f"no build can be read: {len(errors)} have contradictory events. The first: {errors[0]}",
            hint="Check that each input file contains the output of one engine run.",
        )
    return tabulated
