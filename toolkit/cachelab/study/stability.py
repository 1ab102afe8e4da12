"""Key stability across the steps of a scenario, and cache transparency per build.

Each instruction and stage of a build at step N is compared with the same one
of the same run at step N - 1. A run is one Dockerfile, scenario, strategy and
repeat of one run_id. A stage is identified by its index as written. An
instruction is identified by its Dockerfile line, because a squash moves a base
stage's instructions into its child; where a line occurs twice, by stage and
position.
`add_stability` fills these columns:

- `key_changed`: the cache key differs (NA when either side has no key).
- `key_change_part`: for a changed key, the first of its own recorded parts
  that differs (found with `cachelab.keys.explain`): `instruction`,
  `env:<name>` (a variable of the RUN environment), `env-count`,
  `file:<path>` (a context file or the saved files of a source stage under
  `/kaniko/deps/<index>`),
  `inferred` (a `COPY --from` keyed by its source's key or pointer); or, when
  its own parts are equal, `base` (the stage's base changed) or `parent` (an
  earlier instruction of the stage changed).
- `key_change_expected`: whether the step's mutations explain the change: the
  mutated input is among the changed parts, or the change comes from an
  upstream key (base, parent, source stage) whose change was expected. A
  changed file of a source stage whose key stayed the same is unexpected
  (its RUN produced other bytes), and so is a changed context file that no
  mutation touched (timestamps, implicit directories).
- `decision_flipped`: the instruction hit at one step and not at the other (NA
  when either side was skipped). A stage flipped when any of its instructions did.

On builds, `transparent` tells whether a warm build produced the image of the
run's cold build (step 0): the same layer diff IDs and config, timestamps
aside. It is filled only for steps whose inputs still equal step 0's (no
mutation other than clearing the cache or changing its TTL).
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from cachelab.events.keyparts import RecordedPart, parse_key_part
from cachelab.keys.explain import explain
from cachelab.keys.parts import KANIKO_DEPS_DIR, KeyPart
from cachelab.record import Recording
from cachelab.record.schema import BOOL, STABILITY, pandas_dtype
from cachelab.study.mutations import (
    Chmod,
    ClearCache,
    CreateFile,
    DeleteFile,
    EditFile,
    EditInstruction,
    RemoveBuildArg,
    RenameFile,
    SetBuildArg,
    SetTarget,
    Touch,
)
from cachelab.study.rebuild import MakeRunNondeterministic, MoveBaseTag, SetCacheTTL
from cachelab.study.scenario import Scenario, builtin_scenario

logger = logging.getLogger(__name__)

RUN_COLUMNS = ["run_id", "dockerfile_id", "scenario", "strategy", "repeat"]
_FROM_FLAG = re.compile(r"--from=(\S+)")

# Scenario definitions by (dockerfile_id, scenario name), or by name alone.
ScenarioMap = Mapping[tuple[str, str], Scenario] | Mapping[str, Scenario]


@dataclass
class StepChanges:
    """The inputs one scenario step changed before its build."""

    context_paths: set[str] = field(default_factory=set)
    dockerfile_lines: set[int] = field(default_factory=set)
    build_args: set[str] = field(default_factory=set)
    base_references: set[str] = field(default_factory=set)
    target: bool = False

    @property
    def changes_inputs(self) -> bool:
        return bool(
            self.context_paths or self.dockerfile_lines or self.build_args or self.base_references or self.target
        )

    @property
    def changes_definitions(self) -> bool:
        """Whether instruction text, environment or bases may differ.

        The Dockerfile, build arguments and bases define them; the target may
        too, through the predefined arguments that name the target stage.
        """
        return bool(self.dockerfile_lines or self.build_args or self.base_references or self.target)


def step_changes(scenario: Scenario) -> list[StepChanges]:
    """Return what each step of `scenario` changed, step 0 included."""
    changes = []
    for step in scenario.steps:
        found = StepChanges()
        for mutation in step.mutations:
            if isinstance(mutation, (EditFile, CreateFile, DeleteFile, Chmod, Touch)):
                found.context_paths.add(_normal(mutation.path))
            elif isinstance(mutation, RenameFile):
                found.context_paths.update({_normal(mutation.path), _normal(mutation.to)})
            elif isinstance(mutation, (EditInstruction, MakeRunNondeterministic)):
                found.dockerfile_lines.add(mutation.line)
            elif isinstance(mutation, (SetBuildArg, RemoveBuildArg)):
                found.build_args.add(mutation.name)
            elif isinstance(mutation, MoveBaseTag):
                found.base_references.add(mutation.reference)
            elif isinstance(mutation, SetTarget):
                found.target = True
            elif not isinstance(mutation, (ClearCache, SetCacheTTL)):
                # An unknown kind may change anything; treat it as an edit of every input.
                logger.warning("mutation %s is unknown to the stability analysis", mutation.op)
                found.context_paths.add("*")
                found.dockerfile_lines.add(0)
        changes.append(found)
    return changes


def add_stability(recording: Recording, scenarios: ScenarioMap | None = None) -> Recording:
    """Return a copy of `recording` with the stability and `transparent` columns filled.

    `scenarios` gives the definitions of the recorded scenarios; built-in
    scenario names need none. Builds of a scenario without a definition get the
    columns that need no mutations (`key_changed`, `decision_flipped`) only.
    """
    builds = recording.builds.copy()
    stages = recording.stages.copy()
    instructions = recording.instructions.copy()
    for column, kind in STABILITY.items():
        stages[column] = pd.Series([pd.NA] * len(stages), dtype=pandas_dtype(kind))
        instructions[column] = pd.Series([pd.NA] * len(instructions), dtype=pandas_dtype(kind))
    builds["transparent"] = pd.Series([pd.NA] * len(builds), dtype=pandas_dtype(BOOL))

    stage_rows = _rows_by_build(stages)
    instruction_rows = _rows_by_build(instructions)
    for _, run in builds[builds["step"].notna()].groupby(RUN_COLUMNS, dropna=False, sort=False):
        ordered = run.sort_values("step")
        changes = _changes_of(ordered.iloc[0], scenarios)
        _mark_transparency(builds, ordered, changes)
        previous = None
        for _, build in ordered.iterrows():
            if previous is not None:
                step = int(build["step"])
                step_change = changes[step] if changes is not None and step < len(changes) else None
                _compare_builds(
                    _BuildRows(stages, stage_rows.get(previous["build_id"], [])),
                    _BuildRows(stages, stage_rows.get(build["build_id"], [])),
                    _BuildRows(instructions, instruction_rows.get(previous["build_id"], [])),
                    _BuildRows(instructions, instruction_rows.get(build["build_id"], [])),
                    step_change,
                )
            previous = build
    return Recording(builds, stages, instructions, recording.spans, list(recording.environments))


def stability_summary(recording: Recording) -> pd.DataFrame:
    """Return per-strategy stability rates of a recording that `add_stability` filled.

    Key and decision rates are shares of the instructions compared with their
    previous step. `transparent_rate` is the share of transparent builds among
    the warm builds whose inputs equal step 0's. A rate is NA where nothing was
    compared.
    """
    instructions = recording.instructions.merge(
        recording.builds[["build_id", "strategy"]], on="build_id", how="left",
    )
    rows = []
    for strategy in sorted(recording.builds["strategy"].dropna().unique()):
        chosen = instructions[instructions["strategy"] == strategy]
        compared = chosen[chosen["key_changed"].notna()]
        changed = compared[compared["key_changed"].astype(bool)]
        unexpected = changed[changed["key_change_expected"].fillna(True).eq(False)]
        flips = chosen["decision_flipped"].dropna()
        transparency = recording.builds.loc[recording.builds["strategy"] == strategy, "transparent"].dropna()
        rows.append({
            "strategy": strategy,
            "instructions_compared": len(compared),
            "key_change_rate": _rate(len(changed), len(compared)),
            "unexpected_change_rate": _rate(len(unexpected), len(compared)),
            "decision_flip_rate": _rate(int(flips.astype(bool).sum()), len(flips)),
            "builds_checked": len(transparency),
            "transparent_rate": _rate(int(transparency.astype(bool).sum()), len(transparency)),
        })
    return pd.DataFrame(rows, columns=[
        "strategy", "instructions_compared", "key_change_rate", "unexpected_change_rate",
        "decision_flip_rate", "builds_checked", "transparent_rate",
    ])


def scenario_map(runs: Iterable[tuple[str, Scenario]]) -> dict[tuple[str, str], Scenario]:
    """Return the `scenarios` argument of `add_stability` from (dockerfile_id, scenario) pairs."""
    return {(dockerfile_id, scenario.name): scenario for dockerfile_id, scenario in runs}


# Comparison of two builds of a run


@dataclass
class _BuildRows:
    """The rows of one build in a stages or instructions table, by position."""

    table: pd.DataFrame
    positions: list[int]

    def by_unique_line(self) -> dict[int, int]:
        """Return the rows by Dockerfile line, for the lines that only one row has."""
        rows: dict[int, list[int]] = {}
        for position in self.positions:
            line = self.table.at[position, "line"]
            if pd.notna(line):
                rows.setdefault(int(line), []).append(position)
        return {line: found[0] for line, found in rows.items() if len(found) == 1}

    def by_key(self, *columns: str) -> dict[tuple[int, ...], int]:
        return {
            tuple(int(self.table.at[position, column]) for column in columns): position
            for position in self.positions
        }


@dataclass
class _StageOutcome:
    """The comparison result of one stage or instruction: key changed, and whether expectedly."""

    changed: bool | None
    expected: bool | None


@dataclass
class _Upstream:
    """The key an instruction's chain continues: the stage's base, or the instruction before it."""

    label: str
    outcome: _StageOutcome


def _compare_builds(
    old_stages: _BuildRows,
    new_stages: _BuildRows,
    old_instructions: _BuildRows,
    new_instructions: _BuildRows,
    changes: StepChanges | None,
) -> None:
    stages = new_stages.table
    old_by_index = old_stages.by_key("stage_index")
    old_by_position = old_instructions.by_key("stage_index", "instruction_index")
    new_by_position = new_instructions.by_key("stage_index", "instruction_index")
    old_by_line = old_instructions.by_unique_line()
    new_by_line = new_instructions.by_unique_line()
    names = {
        str(stages.at[row, "stage_name"]): int(stages.at[row, "stage_index"])
        for row in new_stages.positions if pd.notna(stages.at[row, "stage_name"])
    }
    outcomes: dict[int, _StageOutcome] = {}

    for row in sorted(new_stages.positions, key=lambda position: int(stages.at[position, "stage_index"])):
        index = int(stages.at[row, "stage_index"])
        old_row = old_by_index.get((index,))
        base = _base_outcome(stages, row, names, outcomes, changes)
        positions = sorted(key[1] for key in new_by_position if key[0] == index)
        upstream = _Upstream("base", base)
        first_part = None
        expectations: list[bool | None] = []
        flips: list[bool] = []
        for position in positions:
            new = new_by_position[(index, position)]
            old = _previous_row(new_instructions.table, new, new_by_line, old_by_line, old_by_position)
            if old is None:
                continue
            result = _compare_instruction(
                old_instructions.table, old, new_instructions.table, new, upstream, names, outcomes, changes,
            )
            if result.changed is not None:
                upstream = _Upstream("parent", result)
            if result.changed:
                expectations.append(result.expected)
                first_part = first_part or new_instructions.table.at[new, "key_change_part"]
            flipped = new_instructions.table.at[new, "decision_flipped"]
            if pd.notna(flipped):
                flips.append(bool(flipped))

        changed = _differs(stages.at[old_row, "final_key"], stages.at[row, "final_key"]) if old_row is not None else None
        expected = None
        if changed and changes is not None:
            expected = all(expectations) if expectations and None not in expectations else None
            if not expectations:
                expected = base.expected
        if changed:
            outcomes[index] = _StageOutcome(True, expected)
        elif changed is None:
            outcomes[index] = _StageOutcome(None, None)
        else:
            outcomes[index] = _StageOutcome(False, True)
        stages.at[row, "key_changed"] = changed if changed is not None else pd.NA
        stages.at[row, "key_change_expected"] = expected if expected is not None else pd.NA
        stages.at[row, "key_change_part"] = first_part if changed and first_part is not None else pd.NA
        stages.at[row, "decision_flipped"] = any(flips) if flips else pd.NA


def _compare_instruction(
    old_table: pd.DataFrame,
    old: int,
    table: pd.DataFrame,
    new: int,
    upstream: _Upstream,
    names: Mapping[str, int],
    outcomes: Mapping[int, _StageOutcome],
    changes: StepChanges | None,
) -> _StageOutcome:
    old_decision, new_decision = old_table.at[old, "decision"], table.at[new, "decision"]
    if pd.notna(old_decision) and pd.notna(new_decision) and "skipped" not in (old_decision, new_decision):
        table.at[new, "decision_flipped"] = (old_decision == "hit") != (new_decision == "hit")

    changed = _differs(old_table.at[old, "cache_key"], table.at[new, "cache_key"])
    if changed is None:
        return _StageOutcome(None, None)
    table.at[new, "key_changed"] = changed
    if not changed:
        return _StageOutcome(False, True)

    part = _changed_part(_parts(old_table.at[old, "key_parts"]), _parts(table.at[new, "key_parts"]))
    source = _source_stage(str(table.at[new, "instruction"]), names)
    if part is None:
        # Its own parts are equal, so an input key changed: the base, an earlier
        # instruction, or the target of a pointer (whose key records no parts).
        unrecorded = not _parts(old_table.at[old, "key_parts"]) and not _parts(table.at[new, "key_parts"])
        if unrecorded and table.at[new, "key_source"] == "inferred" and source is not None:
            label, expected = "inferred", _source_expected(source, outcomes)
        else:
            label, expected = upstream.label, upstream.outcome.expected
    else:
        label = _part_label(part)
        expected = _part_expected(part, int(table.at[new, "line"]) if pd.notna(table.at[new, "line"]) else None,
                                  source, outcomes, changes)
    table.at[new, "key_change_part"] = label
    if changes is not None and expected is not None:
        table.at[new, "key_change_expected"] = expected
    return _StageOutcome(True, expected if changes is not None else None)


def _previous_row(
    table: pd.DataFrame,
    row: int,
    new_by_line: Mapping[int, int],
    old_by_line: Mapping[int, int],
    old_by_position: Mapping[tuple[int, ...], int],
) -> int | None:
    # An instruction is the same one when it comes from the same Dockerfile line: a
    # squash moves a base stage's instructions into its child, which shifts positions.
    line = table.at[row, "line"]
    if pd.notna(line) and new_by_line.get(int(line)) == row and int(line) in old_by_line:
        return old_by_line[int(line)]
    return old_by_position.get((int(table.at[row, "stage_index"]), int(table.at[row, "instruction_index"])))


def _base_outcome(
    stages: pd.DataFrame,
    row: int,
    names: Mapping[str, int],
    outcomes: Mapping[int, _StageOutcome],
    changes: StepChanges | None,
) -> _StageOutcome:
    # What a change of the stage's seed means: a base stage's change, or a remote base moved or edited.
    if stages.at[row, "base_kind"] == "stage":
        base = str(stages.at[row, "base"])
        index = names.get(base, int(base) if base.isdigit() else None)
        if index is not None and index in outcomes:
            return outcomes[index]
    if changes is None:
        return _StageOutcome(False, None)
    return _StageOutcome(False, changes.changes_definitions)


def _part_expected(
    part: RecordedPart,
    line: int | None,
    source: int | None,
    outcomes: Mapping[int, _StageOutcome],
    changes: StepChanges | None,
) -> bool | None:
    if changes is None:
        return None
    if part.kind == "instruction":
        return line in changes.dockerfile_lines or bool(changes.build_args) or 0 in changes.dockerfile_lines
    if part.kind in ("env", "env-count"):
        return changes.changes_definitions
    if part.kind == "inferred":
        return _source_expected(source, outcomes)
    path = part.path or ""
    if path.startswith(KANIKO_DEPS_DIR + "/"):
        return _source_expected(source, outcomes)
    return any(_overlaps(_normal(path), mutated) for mutated in changes.context_paths)


def _source_expected(source: int | None, outcomes: Mapping[int, _StageOutcome]) -> bool | None:
    # When the source stage's key stayed the same but its files changed, it ran nondeterministically.
    outcome = outcomes.get(source) if source is not None else None
    if outcome is None or outcome.changed is None:
        return None
    return bool(outcome.changed) and bool(outcome.expected)


def _mark_transparency(builds: pd.DataFrame, ordered: pd.DataFrame, changes: list[StepChanges] | None) -> None:
    if changes is None or ordered.empty or int(ordered.iloc[0]["step"]) != 0:
        return
    cold = ordered.iloc[0]["image_content_digest"]
    inputs_equal = True
    for row, build in ordered.iloc[1:].iterrows():
        step = int(build["step"])
        inputs_equal = inputs_equal and all(not change.changes_inputs for change in changes[1:step + 1])
        digest = build["image_content_digest"]
        if inputs_equal and pd.notna(cold) and pd.notna(digest):
            builds.at[row, "transparent"] = cold == digest


def _changes_of(build: pd.Series, scenarios: ScenarioMap | None) -> list[StepChanges] | None:
    name = build["scenario"]
    if pd.isna(name):
        return None
    found = None
    if scenarios:
        found = scenarios.get((build["dockerfile_id"], name)) or scenarios.get(name)  # type: ignore[call-overload]
    if found is None:
        found = builtin_scenario(str(name))
    return step_changes(found) if found is not None else None


# Small helpers


def _rows_by_build(table: pd.DataFrame) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for position, build_id in zip(table.index, table["build_id"], strict=True):
        grouped.setdefault(str(build_id), []).append(position)
    return grouped


def _differs(old: object, new: object) -> bool | None:
    if pd.isna(old) or pd.isna(new):  # type: ignore[call-overload]
        return None
    return bool(old != new)


def _parts(value: object) -> list[RecordedPart] | None:
    if value is None or value is pd.NA or isinstance(value, float):
        return None
    return [parse_key_part(str(text)) for text in value]  # type: ignore[attr-defined]


def _changed_part(old: list[RecordedPart] | None, new: list[RecordedPart] | None) -> RecordedPart | None:
    """Return the first part where the new parts differ from the old ones; None when they are equal."""
    if old is None or new is None:
        return None
    difference = explain(
        [KeyPart(part.kind, part.value, part.path) for part in old],  # type: ignore[arg-type]
        [KeyPart(part.kind, part.value, part.path) for part in new],  # type: ignore[arg-type]
    )
    if difference is None:
        return None
    if difference.kind == "missing":
        # One list is longer: the extra part is what changed.
        longer = new if len(new) > len(old) else old
        return longer[difference.index]
    return RecordedPart(difference.kind, difference.after or "", difference.path)


def _part_label(part: RecordedPart) -> str:
    if part.kind == "file":
        return f"file:{part.path}"
    if part.kind == "env":
        return f"env:{part.value.partition('=')[0]}"
    return part.kind


def _source_stage(instruction: str, names: Mapping[str, int]) -> int | None:
    match = _FROM_FLAG.search(instruction) if instruction.split(None, 1)[0].upper() in ("COPY", "ADD") else None
    if match is None:
        return None
    source = match.group(1).strip("'\"")
    return names.get(source, int(source) if source.isdigit() else None)


def _normal(path: str) -> str:
    # Context-relative form: no leading `/` or `./`, no trailing `/`; the context itself is "".
    text = path.strip()
    while text.startswith(("./", "/")):
        text = text[2:] if text.startswith("./") else text[1:]
    text = text.rstrip("/")
    return "" if text == "." else text


def _overlaps(part_path: str, mutated: str) -> bool:
    # A COPY source names a file, a directory or a wildcard; a mutation names one context path.
    if mutated == "*" or part_path in ("", "*"):
        return True
    if part_path == mutated or mutated.startswith(part_path + "/") or part_path.startswith(mutated + "/"):
        return True
    return fnmatch.fnmatchcase(mutated, part_path)


def _rate(count: int, total: int) -> float | None:
    return count / total if total else None


__all__ = [
    "StepChanges",
    "add_stability",
    "scenario_map",
    "stability_summary",
    "step_changes",
]
