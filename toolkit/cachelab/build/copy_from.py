"""Which `COPY --from` reads each path a stage saves, so a failed save can name that line.

The builder saves a stage's files for later `COPY --from` instructions after
the stage is built (`cachelab.build.stagefiles`). An error then belongs to the
`COPY --from` line in the later stage, and this module finds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cachelab.plan.stages import PlanStage


@dataclass(frozen=True, slots=True)
class CopyFromLine:
    """The Dockerfile line and text of a `COPY --from` that reads a saved path."""

    line: int
    text: str


def copy_from_lines(stages: Iterable[PlanStage]) -> dict[tuple[int, str], CopyFromLine]:
    """Map (source stage index, saved path) to the first `COPY --from` line that reads the path.

    The paths are the planner's resolved sources (`Command.source_paths`), so
    the keys match `StagePlan.save_files`.
    """
    found: dict[tuple[int, str], CopyFromLine] = {}
    commands = [command for stage in stages for command in stage.commands if command.source_stage is not None]
    for command in sorted(commands, key=lambda command: command.instruction.start_line):
        instruction = command.instruction
        assert command.source_stage is not None
        for path in command.source_paths:
            found.setdefault(
                (command.source_stage, path), CopyFromLine(instruction.start_line, instruction.text),
            )
    return found
