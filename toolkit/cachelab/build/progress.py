"""A line per stage and per instruction on stderr while a build runs.

On by default only when stderr is a terminal and the `CI` environment variable
is unset; `build(progress=False)` and `cachelab build --quiet` turn it off.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from cachelab.plan.decisions import InstructionPlan, StagePlan

MAX_TEXT = 60


def progress_wanted(stream: TextIO | None = None) -> bool:
    """Tell whether progress lines suit `stream` (default: stderr): a terminal, outside CI."""
    stream = stream if stream is not None else sys.stderr
    return stream.isatty() and not os.environ.get("CI")


class Progress:
    """Writes progress lines to `stream` when `enabled`, otherwise nothing."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        # Looked up now, not at import, so a replaced sys.stderr is honoured.
        self.stream = stream if stream is not None else sys.stderr

    def _write(self, line: str) -> None:
        if self.enabled:
            self.stream.write(line + "\n")
            self.stream.flush()

    def stage_started(self, plan: StagePlan) -> None:
        base = plan.base_ref or "scratch"
        unpack = "unpack base" if plan.should_unpack else "no unpack"
        self._write(f"[stage {_stage_name(plan)}] FROM {base} ({unpack})")

    def stage_skipped(self, plan: StagePlan) -> None:
        self._write(f"[stage {_stage_name(plan)}] {plan.action}, not built")

    def stage_finished(self, plan: StagePlan, seconds: float) -> None:
        self._write(f"[stage {_stage_name(plan)}] done in {seconds:.2f}s "
                    f"({_count(plan.cache_hits, 'hit', 'hits')}, {_count(plan.cache_misses, 'miss', 'misses')})")

    def instruction(self, plan: StagePlan, instruction: InstructionPlan, seconds: float) -> None:
        text = instruction.text if len(instruction.text) <= MAX_TEXT else instruction.text[:MAX_TEXT - 1] + "\u2026"
        self._write(f"[stage {_stage_name(plan)}] {instruction.decision:>10}  {seconds:7.2f}s  {text}")

    def build_finished(self, digest: str | None, seconds: float) -> None:
        self._write(f"built {digest or '(no image)'} in {seconds:.2f}s")


def _stage_name(plan: StagePlan) -> str:
    return plan.name or str(plan.index)


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"
