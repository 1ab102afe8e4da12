"""Scenarios: named sequences of build steps, built in or loaded from TOML.

Built-in scenario strings:

- `warm-unchanged`: a cold build, then a rebuild with nothing changed.
- `edit:PATH`: a cold build, then a rebuild after appending a line to context file PATH.
- `build-arg:K=V`: a cold build, then a rebuild with build argument K set to V.

Other scenarios come from `cachelab-scenarios.toml` beside the Dockerfile::

    [[scenarios.config-edit.steps]]
    label = "cold"

    [[scenarios.config-edit.steps]]
    label = "debug on"
    mutations = [{ op = "edit", path = "config.ini", append = "debug = 1\\n" }]

Each mutation table names its kind with `op` (see `MUTATIONS`) and gives that
mutation's fields as keys. The first step of every scenario runs with an empty cache.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cachelab.study.errors import MutationError, ScenarioError
from cachelab.study.mutations import MUTATIONS, EditFile, Mutation, SetBuildArg

SCENARIO_FILE = "cachelab-scenarios.toml"
WARM_UNCHANGED = "warm-unchanged"
EDIT_PREFIX = "edit:"
BUILD_ARG_PREFIX = "build-arg:"
# The line `edit:PATH` appends; any change of content changes the file's cache key.
EDIT_MARKER = "# changed by cachelab's edit scenario\n"


@dataclass(frozen=True)
class Step:
    """One build of a scenario, after its mutations are applied in order."""

    mutations: tuple[Mutation, ...] = ()
    label: str | None = None

    def describe(self) -> str:
        if self.label:
            return self.label
        if not self.mutations:
            return "unchanged"
        return "; ".join(mutation.describe() for mutation in self.mutations)


@dataclass(frozen=True)
class Scenario:
    """A named sequence of build steps; step 0 starts from an empty cache."""

    name: str
    steps: tuple[Step, ...]
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.steps:
            raise ScenarioError(
                f"scenario {self.name!r} has no steps",
                hint="Give a scenario at least one step, usually a cold build first.",
            )


def builtin_scenario(text: str) -> Scenario | None:
    """Return the built-in scenario `text` names, or None when it names none."""
    cold = Step(label="cold")
    if text == WARM_UNCHANGED:
        return Scenario(text, (cold, Step(label="warm, unchanged")))
    if text.startswith(EDIT_PREFIX):
        path = text[len(EDIT_PREFIX):]
        if not path:
            raise ScenarioError(
                "scenario 'edit:' names no file",
                hint="Write edit:PATH with PATH relative to the build context.",
            )
        return Scenario(text, (cold, Step((EditFile(path, append=EDIT_MARKER),))))
    if text.startswith(BUILD_ARG_PREFIX):
        name, equals, value = text[len(BUILD_ARG_PREFIX):].partition("=")
        if not name or not equals:
            raise ScenarioError(
                f"scenario {text!r} is not of the form build-arg:K=V",
                hint="Write build-arg:NAME=VALUE, e.g. build-arg:VERSION=2.",
            )
        return Scenario(text, (cold, Step((SetBuildArg(name, value),))))
    return None


def resolve_scenario(text: str | Scenario, *, dockerfile: Path | None = None) -> Scenario:
    """Return the scenario `text` names: a built-in one, else one of the scenario file.

    The scenario file is `cachelab-scenarios.toml` in the Dockerfile's directory.
    Raises `ScenarioError` naming the known scenarios when none matches.
    """
    if isinstance(text, Scenario):
        return text
    found = builtin_scenario(text)
    if found is not None:
        return found

    path = dockerfile.parent / SCENARIO_FILE if dockerfile is not None else None
    from_file = load_scenarios(path) if path is not None and path.is_file() else {}
    if text in from_file:
        return from_file[text]
    known = [WARM_UNCHANGED, "edit:PATH", "build-arg:K=V", *sorted(from_file)]
    where = f" or in {path}" if path is not None else ""
    raise ScenarioError(
        f"unknown scenario {text!r}; no built-in scenario{where} has that name",
        hint=f"Use one of: {', '.join(known)}.",
    )


def load_scenarios(path: str | Path) -> dict[str, Scenario]:
    """Read the scenarios of a TOML file, by name, or raise `ScenarioError`."""
    source = Path(path)
    try:
        with source.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ScenarioError(
            f"scenario file not found: {source}",
            hint=f"Create {SCENARIO_FILE} beside the Dockerfile or pass a built-in scenario.",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(
            f"scenario file {source} is not valid TOML: {exc}",
            hint="Fix the TOML syntax at the position the message names.",
        ) from None

    tables = document.get("scenarios")
    if not isinstance(tables, dict):
        raise ScenarioError(
            f"scenario file {source} has no [scenarios.NAME] tables",
            hint="Define each scenario as [[scenarios.NAME.steps]] tables.",
        )
    return {
        name: _scenario_from_table(name, table, f"{source}: scenario {name!r}")
        for name, table in tables.items()
    }


def _scenario_from_table(name: str, table: object, where: str) -> Scenario:
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} is not a table", hint="Write [[scenarios.NAME.steps]] tables.")
    _reject_unknown_keys(table, {"steps", "description"}, where)
    steps = table.get("steps")
    if steps is not None and not isinstance(steps, list):
        raise ScenarioError(
            f"{where}: `steps` is {_toml_type(steps)}, not an array of tables",
            hint="Write each step as a [[scenarios.NAME.steps]] table instead of `steps = ...`.",
        )
    if not steps:
        raise ScenarioError(
            f"{where} has no steps",
            hint="Add [[scenarios.NAME.steps]] tables, the first one usually a cold build.",
        )
    description = table.get("description")
    if description is not None and not isinstance(description, str):
        raise ScenarioError(f"{where}: `description` is not a string", hint="Quote the description.")
    parsed = tuple(
        _step_from_table(step, f"{where}, step {index}") for index, step in enumerate(steps)
    )
    return Scenario(name, parsed, description)


def _toml_type(value: object) -> str:
    """Return the TOML name of the type of a value `tomllib` parsed, with its article."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


def _step_from_table(table: object, where: str) -> Step:
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} is not a table", hint="Write each step as a TOML table.")
    _reject_unknown_keys(table, {"label", "mutations"}, where)
    label = table.get("label")
    if label is not None and not isinstance(label, str):
        raise ScenarioError(f"{where}: `label` is not a string", hint="Quote the label.")
    mutations = table.get("mutations", [])
    if not isinstance(mutations, list):
        raise ScenarioError(
            f"{where}: `mutations` is not an array",
            hint='Write mutations = [{ op = "edit", path = "...", append = "..." }].',
        )
    parsed = tuple(
        mutation_from_table(item, f"{where}, mutation {index}")
        for index, item in enumerate(mutations)
    )
    return Step(parsed, label)


def mutation_from_table(table: object, where: str = "mutation") -> Mutation:
    """Build a mutation from a TOML table with `op` and the mutation's fields."""
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} is not a table", hint="Write { op = \"...\", ... }.")
    op = table.get("op")
    cls = MUTATIONS.get(op) if isinstance(op, str) else None
    if cls is None:
        raise ScenarioError(
            f"{where}: unknown op {op!r}",
            hint=f"Use one of: {', '.join(sorted(MUTATIONS))}.",
        )
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls)}
    arguments = {key: value for key, value in table.items() if key != "op"}
    _reject_unknown_keys(arguments, set(fields), f"{where} ({op})")
    for name, field in fields.items():
        required = field.default is dataclasses.MISSING
        if name not in arguments:
            if required:
                raise ScenarioError(
                    f"{where} ({op}) lacks `{name}`",
                    hint=f"Add {name} = ... to the mutation.",
                )
            continue
        _check_type(arguments[name], hints[name], f"{where} ({op}): `{name}`")
    try:
        return cls(**arguments)
    except MutationError as exc:
        raise ScenarioError(f"{where}: {exc}", hint=exc.hint) from None


def _check_type(value: object, hint: object, where: str) -> None:
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    # TOML has no null, so an optional field is given or left out.
    accepted = tuple(kind for kind in allowed if kind is not type(None))
    if float in accepted:
        accepted = (*accepted, int)
    is_bool = isinstance(value, bool)
    if is_bool and bool not in accepted or not isinstance(value, accepted):
        names = " or ".join(kind.__name__ for kind in accepted if isinstance(kind, type))
        raise ScenarioError(
            f"{where} is {type(value).__name__}, expected {names}",
            hint="Fix the value's type in the scenario file.",
        )


def _reject_unknown_keys(table: Mapping[str, object], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ScenarioError(
            f"{where} has unknown keys: {', '.join(unknown)}",
            hint=f"Use only: {', '.join(sorted(known)) or 'no keys'}.",
        )
