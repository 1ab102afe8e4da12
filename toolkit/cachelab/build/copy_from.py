"""Which `COPY --from` reads each path a stage saves, so a failed save can name that line.

The builder saves a stage's files for later `COPY --from` instructions after
the stage is built (`cachelab.build.stagefiles`). An error then belongs to the
`COPY --from` line in the later stage, and this module finds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cachelab.dockerfile.errors import DockerfileError
from cachelab.dockerfile.lexer import expand_word
from cachelab.plan.stages import PlanStage


@dataclass(frozen=True, slots=True)
class CopyFromLine:
    """The Dockerfile line and text of a `COPY --from` that reads a saved path."""

    line: int
    text: str


def copy_from_lines(
    stages: Iterable[PlanStage], meta_args: Mapping[str, str], *, escape: str = "\\"
) -> dict[tuple[int, str], CopyFromLine]:
    """Map (source stage index, saved path) to the first `COPY --from` line that reads the path.

    The paths are the source words expanded with the meta ARGs and build args,
    as the planner names the files a stage saves, so the keys match
    `StagePlan.save_files`.
    """
    found: dict[tuple[int, str], CopyFromLine] = {}
    commands = [command for stage in stages for command in stage.commands if command.source_stage is not None]
    for command in sorted(commands, key=lambda command: command.instruction.start_line):
        instruction = command.instruction
        assert command.source_stage is not None
        for word in instruction.args[:-1]:
            try:
                path = expand_word(word, meta_args, escape=escape) if "$" in word else word
            except DockerfileError:
                path = word
            found.setdefault(
                (command.source_stage, path), CopyFromLine(instruction.start_line, instruction.text),
            )
    return found
