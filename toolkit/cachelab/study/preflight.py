"""Check a scenario against the user's build input before any build starts.

A typo in a mutation (a context path, a Dockerfile line, a stage name) would
otherwise surface only after the cold build of the first strategy. The check
applies every step, in order, to an outline copy of the context: the same
directories and links, with empty files, and the real Dockerfile. So a step
that depends on an earlier one (create, then edit) is checked in that state,
and errors name the user's files, not the copy.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from cachelab.study.errors import MutationError
from cachelab.study.mutations import check_mutation
from cachelab.study.scenario import Scenario
from cachelab.study.workspace import BuildInput, Workspace

logger = logging.getLogger(__name__)


def check_scenario(
    scenario: Scenario,
    source: BuildInput,
    *,
    build_args: Mapping[str, str] | None = None,
    targets: Sequence[str] = (),
    work_dir: str | Path | None = None,
) -> None:
    """Apply every step of `scenario` to an outline copy of `source`, or raise `MutationError`.

    The error names the step, the mutation and the user's context or Dockerfile.
    `build_args` and `targets` are the settings the first step starts with.
    Mutations with a `check` method run it instead of `apply`, so nothing outside
    the temporary copy changes.
    """
    with tempfile.TemporaryDirectory(prefix="cachelab-check-", dir=work_dir) as scratch:
        workspace = Workspace.create(
            source, Path(scratch) / "work", build_args=dict(build_args or {}), targets=tuple(targets),
            outline=True,
        )
        for index, step in enumerate(scenario.steps):
            for mutation in step.mutations:
                try:
                    check_mutation(mutation, workspace)
                except MutationError as exc:
                    raise MutationError(
                        f"scenario {scenario.name!r}, step {index} ({step.describe()}): {exc}",
                        hint=exc.hint,
                    ) from exc
            _check_targets(workspace, scenario, index)
    logger.debug("scenario %s fits %s", scenario.name, source.dockerfile)


def _check_targets(workspace: Workspace, scenario: Scenario, index: int) -> None:
    from cachelab.dockerfile import DockerfileError, parse_dockerfile

    if not workspace.targets:
        return
    try:
        dockerfile = parse_dockerfile(workspace.dockerfile.read_text(), path=str(workspace.user_dockerfile))
    except DockerfileError:
        # The build of this step reports the syntax error with its line.
        return
    names = {stage.name.lower() for stage in dockerfile.stages if stage.name is not None}
    unknown = [target for target in workspace.targets if target.lower() not in names]
    if unknown:
        raise MutationError(
            f"scenario {scenario.name!r}, step {index}: target stage {unknown[0]!r} not found in "
            f"{workspace.user_dockerfile}",
            hint=f"Name a stage of the Dockerfile; its stage names are: {', '.join(sorted(names)) or 'none'}.",
        )
