"""Scenarios of repeated builds, strategy comparisons and study matrices.

A scenario is a sequence of builds, each preceded by mutations of a private copy
of the build context and Dockerfile. `compare` runs one scenario under several
strategies with interleaved repeats; `study` runs a matrix of Dockerfiles,
scenarios and strategies and can resume after an interruption.
"""

from __future__ import annotations

from cachelab.study.errors import MutationError, ScenarioError, StudyError
from cachelab.study.mutations import (
    MUTATIONS,
    Chmod,
    ClearCache,
    CreateFile,
    DeleteFile,
    EditFile,
    EditInstruction,
    Mutation,
    RemoveBuildArg,
    RenameFile,
    SetBuildArg,
    SetTarget,
    Touch,
)
from cachelab.study.scenario import (
    SCENARIO_FILE,
    Scenario,
    Step,
    load_scenarios,
    resolve_scenario,
)
from cachelab.study.workspace import BuildInput, Workspace, resolve_input

__all__ = [
    "MUTATIONS",
    "SCENARIO_FILE",
    "BuildInput",
    "Chmod",
    "ClearCache",
    "CreateFile",
    "DeleteFile",
    "EditFile",
    "EditInstruction",
    "Mutation",
    "MutationError",
    "RemoveBuildArg",
    "RenameFile",
    "Scenario",
    "ScenarioError",
    "SetBuildArg",
    "SetTarget",
    "Step",
    "StudyError",
    "Touch",
    "Workspace",
    "load_scenarios",
    "resolve_input",
    "resolve_scenario",
]
