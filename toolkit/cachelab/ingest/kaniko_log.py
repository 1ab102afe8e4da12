"""kaniko logs (all versions, any `--log-format`) as build runs.

The log states per stage which base it was built on, per command whether the
cache hit or missed and under which key, and which stages lookahead eliminated
or squashed. With FF_KANIKO_CACHE_LOOKAHEAD kaniko prints the cache lines twice:
once in the precompute pass, before the first `Building stage` line, and again
in the build pass. The build pass decides the rows. The precompute pass only
supplies the keys of hits the build pass found in its memo without printing a
probe line.

Instruction rows are numbered by the order in which a stage executes its
commands, as kaniko's trace numbers them. Eliminated stages get a stage row but
no instruction rows, because the precompute pass does not say which stage a
cache line belongs to.

A cache lookup that fails prints the same `No cached layer found` line as a
plain miss. Only at debug level does kaniko print the lookup's error before it
(`Failed to retrieve layer: ERROR`, or `pointer`), for plain misses too. So a
log counts failed lookups only when it has debug records: a lookup whose error
is not one of `PLAIN_MISS` failed. A failed push prints the warning `Error
uploading layer to cache: ERROR` at any level, but only once per stage, because
kaniko waits for all pushes of a stage and reports the first error. So
`cache_failures` is exact for a debug log without that warning, a lower bound
when the warning appears, and None (NA) for an info-level log without it.

The stage an instruction is written in (`origin_stage_index`) is known for
the stages below the lowest squashed one. A stage from there up may run the
commands of a stage squashed into it first, and the log does not say how many:
`Squashing stages: CHILD into BASE` names stages but gives no index and no
command count. Their rows keep NA, so they do not join with other builds' rows on
the written position.

`wall_s` is the time from the first log line to the last. The color format's
elapsed seconds and the text and json formats' default timestamps are whole
seconds, so such a `wall_s` is too. A `wall_s` of 1.0 means that the lines
crossed one second boundary, so the build took between 0 and 2 seconds.
A build whose first and last lines fall within one second gets its outcome but
keeps `wall_s` NA. Only a log with sub-second timestamps gets an exact `wall_s`
and `stage` spans.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cachelab.events import SpanRecorded
from cachelab.ingest.errors import IngestError
from cachelab.ingest.kaniko_lines import Message, classify
from cachelab.ingest.kaniko_log_lines import LogRecord, read_records
from cachelab.ingest.kaniko_run import KanikoInstruction, KanikoRun, KanikoStage

logger = logging.getLogger(__name__)

# Lookup errors that mean the cache has no entry for the key, as checked against
# kaniko 6bcc934 and its go-containerregistry v0.21.9. They are a registry's 404
# with the OCI error code MANIFEST_UNKNOWN or NAME_UNKNOWN or without a body, an
# entry older than --cache-ttl, and a missing entry in an `oci:` layout cache.
PLAIN_MISS = re.compile(
    r"MANIFEST_UNKNOWN|NAME_UNKNOWN|unexpected status code 404 |cache entry expired: "
    r"|index\.json: no such file or directory"
)


@dataclass
class _Decision:
    text: str
    decision: str
    key: str | None
    redirect_key: str | None


@dataclass
class _StageLog:
    """Cache decisions of one stage's build pass, consumed in command order."""

    decisions: dict[str, deque[_Decision]] = field(default_factory=lambda: defaultdict(deque))
    executed: list[str] = field(default_factory=list)


def read_kaniko_log(path: str | Path, *, build_id: str | None = None) -> KanikoRun:
    """Return the run a kaniko log file describes."""
    path = Path(path)
    data = path.read_bytes()
    text = data.decode("utf-8", errors="replace")
    default_id = "kaniko-log-" + hashlib.sha256(data).hexdigest()[:16]
    return run_from_log_lines(text.splitlines(), build_id=build_id or default_id, source=str(path))


def run_from_log_lines(lines: Iterable[str], *, build_id: str, source: str = "<log>") -> KanikoRun:
    """Return the run described by kaniko log `lines`."""
    reader = _LogReader(build_id, source)
    for record in read_records(lines):
        reader.feed(record)
    return reader.finish()


class _LogReader:
    def __init__(self, build_id: str, source: str) -> None:
        self.source = source
        self.run = KanikoRun(build_id=build_id, started_at=None)
        self.records = 0
        self.first: LogRecord | None = None
        self.last: LogRecord | None = None
        self.current: int | None = None
        self.stage_logs: dict[int, _StageLog] = defaultdict(_StageLog)
        self.precompute: dict[str, list[_Decision]] = defaultdict(list)
        self.probes: list[str] = []
        self.redirect: str | None = None
        self.squashes: list[tuple[str, str]] = []
        self.layer_pushes: list[tuple[int | None, str]] = []
        self.pointer_pushes: list[tuple[str, str]] = []
        self.stage_starts: list[tuple[int, datetime | None]] = []
        self.subsecond = False
        self.debug_level = False
        self.failed_lookups = 0

    def feed(self, record: LogRecord) -> None:
        self.records += 1
        self.first = self.first or record
        self.last = record
        self.subsecond = self.subsecond or (record.time is not None and record.time.microsecond != 0)
        if record.level in ("fatal", "panic"):
            self.run.outcome, self.run.error = "error", record.message
        self.debug_level = self.debug_level or record.level in ("debug", "trace")
        message = classify(record.message)
        if message is None:
            return
        handler = getattr(self, f"_on_{message.kind.replace('-', '_')}")
        handler(message)

    def _on_flags(self, message: Message) -> None:
        for name in message.groups[0].split(","):
            if name.strip():
                self.run.flags[name.strip()] = "true"

    def _on_building_stage(self, message: Message) -> None:
        base, index, base_index = message.groups[0], int(message.groups[1]), int(message.groups[2])
        stage = self.run.stage(index)
        stage.base = base
        if base_index >= 0:
            stage.base_kind = "stage"
        elif base.lower() == "scratch":
            stage.base_kind = "scratch"
        else:
            stage.base_kind = "image"
        stage.action = "built"
        self.current = index
        assert self.last is not None
        self.stage_starts.append((index, self.last.time))
        self.stage_logs[index]
        self._reset_probe()

    def _on_eliminating_stage(self, message: Message) -> None:
        stage = self.run.stage(int(message.groups[1]))
        stage.base = message.groups[0]
        if stage.base.lower() == "scratch":
            stage.base_kind = "scratch"
        stage.action = "eliminated"

    def _on_squashing(self, message: Message) -> None:
        self.squashes.append((message.groups[0], message.groups[1]))

    def _on_probe(self, message: Message) -> None:
        self.run.cache_enabled = True
        self.probes.append(message.groups[0])

    def _on_inferred_hit(self, message: Message) -> None:
        self.redirect = self.probes[-1] if self.probes else None
        self.probes = []

    def _on_hit(self, message: Message) -> None:
        self._decide(message.groups[0], "hit")

    def _on_miss(self, message: Message) -> None:
        self._decide(message.groups[0], "miss")

    def _on_unpacking(self, message: Message) -> None:
        if self.current is not None:
            self.run.stage(self.current).unpacked = True

    def _on_skip_unpacking(self, message: Message) -> None:
        if self.current is not None:
            self.run.stage(self.current).unpacked = False

    def _on_push_layer(self, message: Message) -> None:
        self.layer_pushes.append((self.current, message.groups[0]))

    def _on_push_pointer(self, message: Message) -> None:
        self.pointer_pushes.append((message.groups[0], message.groups[1]))

    def _on_push_error(self, message: Message) -> None:
        self.run.cache_push_errors = (self.run.cache_push_errors or 0) + 1

    def _on_lookup_error(self, message: Message) -> None:
        if PLAIN_MISS.search(message.groups[0]) is None:
            self.failed_lookups += 1
            logger.debug("%s: failed cache lookup: %s", self.source, message.groups[0])

    def _on_command(self, message: Message) -> None:
        if self.current is None:
            self._start_unannounced_stage()
        assert self.current is not None
        self.stage_logs[self.current].executed.append(message.groups[0])
        self._reset_probe()

    def _start_unannounced_stage(self) -> None:
        """Treat a log that runs commands before any `Building stage` line as one stage.

        Only the lookahead precompute pass prints cache lines before that line, and it
        runs no command, so the cache lines seen so far belong to this stage.
        """
        self.current = 0
        self.run.stage(0)
        stage_log = self.stage_logs[0]
        for text, decisions in self.precompute.items():
            stage_log.decisions[text].extend(decisions)
        self.precompute.clear()

    def _decide(self, text: str, decision: str) -> None:
        self.run.cache_enabled = True
        key = self.probes[-1] if self.probes else None
        entry = _Decision(text, decision, key, self.redirect)
        if self.current is None:
            self.precompute[text].append(entry)
        else:
            self.stage_logs[self.current].decisions[text].append(entry)
        self._reset_probe()

    def _reset_probe(self) -> None:
        self.probes = []
        self.redirect = None

    def finish(self) -> KanikoRun:
        if self.records == 0:
            raise IngestError(
                f"{self.source}: no kaniko log lines found",
                hint="Pass kaniko's log in the color, text or json format.",
            )
        self._timing()
        used_keys: set[str] = set()
        for index, stage_log in sorted(self.stage_logs.items()):
            self.run.instructions.extend(self._instructions(index, stage_log, used_keys))
        if self.run.cache_enabled:
            self._match_pushes()
            self.run.cache_push_errors = self.run.cache_push_errors or 0
        self.run.cache_failures = self._cache_failures()
        self._resolve_squashes()
        logger.info(
            "%s: %d log records, %d stages, %d instructions",
            self.source, self.records, len(self.run.stages), len(self.run.instructions),
        )
        return self.run

    def _cache_failures(self) -> int | None:
        """Return the failed lookups plus the push warnings, or None when the log cannot tell."""
        failures = self.failed_lookups + (self.run.cache_push_errors or 0)
        if failures == 0 and not self.debug_level:
            return None
        return failures

    def _timing(self) -> None:
        first, last = self.first, self.last
        assert first is not None and last is not None
        if first.time is not None and last.time is not None:
            self.run.started_at = first.time
            elapsed = (last.time - first.time).total_seconds()
            whole_seconds = first.time.microsecond == 0 and last.time.microsecond == 0
        elif last.elapsed_s is not None:
            elapsed, whole_seconds = last.elapsed_s, True
        else:
            return
        # NOTE: a log cut off before the build ended counts as finished too,
        # because the reader does not look for kaniko's last message.
        self.run.finished = True
        # Whole-second stamps make a build whose first and last lines share a
        # second unmeasurable, so its wall_s stays NA instead of 0.
        if elapsed > 0 or not whole_seconds:
            self.run.wall_s = elapsed
        if self.subsecond:
            self._stage_spans()

    def _stage_spans(self) -> None:
        """Add a `stage` span per built stage, from its `Building stage` line to the next one.

        Only logs with sub-second timestamps get them, because whole seconds would
        round short stages to 0.
        """
        first, last = self.first, self.last
        assert first is not None and last is not None and first.time is not None and last.time is not None
        starts = [(index, moment) for index, moment in self.stage_starts if moment is not None]
        ends = [moment for _, moment in starts[1:]] + [last.time]
        for (index, start), end in zip(starts, ends):
            self.run.spans.append(
                SpanRecorded(
                    build_id=self.run.build_id, span_id=f"stage-{index}", parent_id=None, phase="stage",
                    start_s=(start - first.time).total_seconds(), end_s=(end - first.time).total_seconds(),
                    stage_index=index,
                )
            )

    def _instructions(self, stage_index: int, stage_log: _StageLog, used_keys: set[str]) -> list[KanikoInstruction]:
        instructions = []
        for position, text in enumerate(stage_log.executed):
            instruction = KanikoInstruction(stage_index=stage_index, index=position, text=text)
            pending = stage_log.decisions.get(text)
            if pending:
                found = pending.popleft()
                instruction.decision = found.decision
                instruction.probed = True
                instruction.cache_key = found.key
                instruction.redirect_key = found.redirect_key
                if instruction.cache_key is None:
                    # A hit served from kaniko's memo prints no probe line in the build pass.
                    self._take_precomputed(instruction, used_keys)
            if instruction.cache_key is not None:
                used_keys.add(instruction.cache_key)
                if instruction.redirect_key is not None:
                    instruction.key_source = "inferred"
                else:
                    instruction.key_source = "content" if instruction.kind in ("COPY", "ADD") else "text"
            instructions.append(instruction)
        return instructions

    def _match_pushes(self) -> None:
        """Mark the instructions kaniko pushed a layer or pointer for.

        A push line names the key. A command that was not probed has no key in the
        log until its layer is pushed, so an unmatched layer key goes to the first
        executed command of the same stage that has no key and did not hit.
        """
        for instruction in self.run.instructions:
            instruction.layer_pushed = False
            instruction.pointer_pushed = False
        by_key = {i.cache_key: i for i in self.run.instructions if i.cache_key is not None}
        for stage_index, key in self.layer_pushes:
            pushed = by_key.get(key) or self._unkeyed_command(stage_index)
            if pushed is None:
                logger.debug("%s: no command for pushed layer %s", self.source, key)
                continue
            if pushed.cache_key is None:
                pushed.cache_key = key
                pushed.key_source = "content" if pushed.kind in ("COPY", "ADD") else "text"
                by_key[key] = pushed
            pushed.layer_pushed = True
        for pointer_key, target in self.pointer_pushes:
            pointed = by_key.get(target)
            if pointed is not None:
                pointed.pointer_pushed = True
                pointed.redirect_key = pointed.redirect_key or pointer_key

    def _unkeyed_command(self, stage_index: int | None) -> KanikoInstruction | None:
        for instruction in self.run.instructions:
            if instruction.stage_index == stage_index and instruction.cache_key is None and instruction.decision != "hit":
                return instruction
        return None

    def _take_precomputed(self, instruction: KanikoInstruction, used_keys: set[str]) -> None:
        for candidate in self.precompute.get(instruction.text, []):
            if candidate.key is not None and candidate.key not in used_keys:
                instruction.cache_key = candidate.key
                instruction.redirect_key = instruction.redirect_key or candidate.redirect_key
                return

    def _resolve_squashes(self) -> None:
        """Mark stages absorbed by a FROM-chain squash.

        The `Squashing stages: S into B` line names stages, not indices, and the log
        never maps names to indices. A stage index below the last built stage that
        was neither built nor eliminated was absorbed, and a squash keeps the child's
        index, so it went into the next built stage above it.
        """
        if not self.run.stages:
            return
        highest = max(self.run.stages)
        built = sorted(i for i, s in self.run.stages.items() if s.action == "built")
        for index in range(highest):
            if index in self.run.stages:
                continue
            following = next((b for b in built if b > index), None)
            if self.squashes and following is not None:
                self.run.stages[index] = KanikoStage(index, action="squashed", squashed_into=following)
            else:
                self.run.stages[index] = KanikoStage(index, action="unused")
        self.run.stages = dict(sorted(self.run.stages.items()))
