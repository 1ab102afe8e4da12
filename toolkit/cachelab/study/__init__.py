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
from cachelab.study.preflight import check_scenario
from cachelab.study.rebuild import MakeRunNondeterministic, MoveBaseTag, SetCacheTTL
from cachelab.study.scenario import (
    SCENARIO_FILE,
    Scenario,
    Step,
    load_scenarios,
    resolve_scenario,
)
from cachelab.study.workspace import BuildInput, Workspace, resolve_input

# Running a study needs pandas and the builder, so these load on first use.
_LAZY = {
    "study": "cachelab.study.matrix",
    "add_stability": "cachelab.study.stability",
    "stability_summary": "cachelab.study.stability",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "MakeRunNondeterministic",
    "MoveBaseTag",
    "Mutation",
    "MutationError",
    "RemoveBuildArg",
    "RenameFile",
    "Scenario",
    "ScenarioError",
    "SetBuildArg",
    "SetCacheTTL",
    "SetTarget",
    "Step",
    "StudyError",
    "Touch",
    "Workspace",
    "add_stability",
    "check_scenario",
    "load_scenarios",
    "resolve_input",
    "resolve_scenario",
    "stability_summary",
    "study",
]
