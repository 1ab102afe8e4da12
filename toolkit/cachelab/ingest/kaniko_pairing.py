"""Check that a kaniko log passed with `--log` belongs to the build of its trace.

A log of another build would lend its stage facts to the trace and produce
contradictory rows, such as a stage marked eliminated whose instructions ran.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeGuard

from cachelab.ingest.errors import IngestError
from cachelab.ingest.kaniko_run import KanikoRun

# Most kaniko logs stamp whole seconds, so a line stamped S was written before S + 1 s.
LOG_RESOLUTION = timedelta(seconds=1)


def check_log_matches_trace(trace: KanikoRun, log: KanikoRun, *, trace_path: str | Path, log_path: str | Path) -> None:
    """Raise IngestError naming both files when `log` cannot be a reading of the build in `trace`.

    The log is rejected when it lacks a stage that the trace has, or marks a
    stage eliminated where the trace ran a command. It is also rejected when a
    command at the same position differs in text, or when its time stamps do
    not overlap the trace's times. A check is skipped where either source
    lacks the fact.
    """
    problem = _first_difference(trace, log)
    if problem is not None:
        raise IngestError(
            f"--log {log_path} is not the log of the build in {trace_path}: {problem}",
            hint="Pass the log of the same kaniko build, in the order of the trace files, or leave out --log.",
        )


def _first_difference(trace: KanikoRun, log: KanikoRun) -> str | None:
    stages_of_log = set(log.stages)
    stages_of_trace = set(trace.stages) | {instruction.stage_index for instruction in trace.instructions}
    extra = sorted(stages_of_trace - stages_of_log)
    if stages_of_log and extra:
        return f"the trace has stage {extra[0]}, and the log has {len(stages_of_log)} stages ({_indexes(stages_of_log)})"

    for instruction in trace.instructions:
        stage = log.stages.get(instruction.stage_index)
        if stage is not None and stage.action == "eliminated":
            return (
                f"the trace ran `{instruction.text}` in stage {instruction.stage_index}, "
                "which the log marks eliminated"
            )

    texts_of_log = {(i.stage_index, i.index): i.text for i in log.instructions}
    for instruction in trace.instructions:
        text = texts_of_log.get((instruction.stage_index, instruction.index))
        if text is not None and text != instruction.text:
            return (
                f"command {instruction.index} of stage {instruction.stage_index} is `{instruction.text}` "
                f"in the trace and `{text}` in the log"
            )

    return _time_difference(trace, log)


def _time_difference(trace: KanikoRun, log: KanikoRun) -> str | None:
    trace_start, log_start = trace.started_at, log.started_at
    if not _aware(trace_start) or not _aware(log_start):
        return None
    trace_end = trace_start + timedelta(seconds=trace.wall_s or 0)
    last_stamp = log_start + timedelta(seconds=log.wall_s or 0)
    if trace_end < log_start or trace_start >= last_stamp + LOG_RESOLUTION:
        return (
            f"the trace ran from {trace_start.isoformat()} to {trace_end.isoformat()}, "
            f"outside the log's time stamps ({log_start.isoformat()} to {last_stamp.isoformat()})"
        )
    return None


def _aware(moment: datetime | None) -> TypeGuard[datetime]:
    # A log stamped without an offset gives a naive time, which cannot be compared with the trace's UTC time.
    return moment is not None and moment.utcoffset() is not None


def _indexes(indexes: set[int]) -> str:
    return ", ".join(str(index) for index in sorted(indexes))
