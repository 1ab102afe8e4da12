from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.study import (
    SCENARIO_FILE,
    Chmod,
    ClearCache,
    EditFile,
    ScenarioError,
    SetBuildArg,
    SetTarget,
    load_scenarios,
    resolve_scenario,
)
from cachelab.study.scenario import EDIT_MARKER, Scenario, mutation_from_table

SCENARIOS_TOML = """
[scenarios.config-edit]
description = "debug flag added"

[[scenarios.config-edit.steps]]
label = "cold"

[[scenarios.config-edit.steps]]
mutations = [
  { op = "edit", path = "config.ini", append = "debug = 1\\n" },
  { op = "chmod", path = "config.ini", mode = 0o600 },
]

[[scenarios.config-edit.steps]]
mutations = [{ op = "clear-cache" }, { op = "target", target = "builder" }]
"""


def test_warm_unchanged_has_two_plain_steps() -> None:
    scenario = resolve_scenario("warm-unchanged")
    assert scenario.name == "warm-unchanged"
    assert len(scenario.steps) == 2
    assert all(step.mutations == () for step in scenario.steps)


def test_edit_scenario_appends_to_path() -> None:
    scenario = resolve_scenario("edit:src/app.txt")
    assert scenario.steps[0].mutations == ()
    assert scenario.steps[1].mutations == (EditFile("src/app.txt", append=EDIT_MARKER),)


def test_build_arg_scenario_sets_argument() -> None:
    scenario = resolve_scenario("build-arg:VERSION=2=3")
    assert scenario.steps[1].mutations == (SetBuildArg("VERSION", "2=3"),)


@pytest.mark.parametrize("text", ["edit:", "build-arg:NOVALUE", "build-arg:=1"])
def test_malformed_builtin_rejected(text: str) -> None:
    with pytest.raises(ScenarioError):
        resolve_scenario(text)


def test_unknown_scenario_lists_known(tmp_path: Path) -> None:
    (tmp_path / SCENARIO_FILE).write_text(SCENARIOS_TOML)
    with pytest.raises(ScenarioError) as caught:
        resolve_scenario("nope", dockerfile=tmp_path / "Dockerfile")
    assert "config-edit" in (caught.value.hint or "")
    assert "warm-unchanged" in (caught.value.hint or "")


def test_scenario_object_passes_through() -> None:
    scenario = resolve_scenario("warm-unchanged")
    assert resolve_scenario(scenario) is scenario


def test_load_scenarios_from_toml(tmp_path: Path) -> None:
    path = tmp_path / SCENARIO_FILE
    path.write_text(SCENARIOS_TOML)
    scenarios = load_scenarios(path)
    scenario = scenarios["config-edit"]
    assert scenario.description == "debug flag added"
    assert [step.label for step in scenario.steps] == ["cold", None, None]
    assert scenario.steps[1].mutations == (
        EditFile("config.ini", append="debug = 1\n"),
        Chmod("config.ini", 0o600),
    )
    assert scenario.steps[2].mutations == (ClearCache(), SetTarget("builder"))


def test_scenario_file_found_beside_dockerfile(tmp_path: Path) -> None:
    (tmp_path / SCENARIO_FILE).write_text(SCENARIOS_TOML)
    scenario = resolve_scenario("config-edit", dockerfile=tmp_path / "Dockerfile")
    assert len(scenario.steps) == 3


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[scenarios.a]\nsteps = []\n", "has no steps"),
        ("[[scenarios.a.steps]]\nmutations = [{ op = 'explode' }]\n", "unknown op"),
        ("[[scenarios.a.steps]]\nmutations = [{ op = 'edit' }]\n", "lacks `path`"),
        ("[[scenarios.a.steps]]\nmutations = [{ op = 'edit', path = 'x' }]\n", "exactly one"),
        ("[[scenarios.a.steps]]\nmutations = [{ op = 'chmod', path = 'x', mode = '755' }]\n", "expected int"),
        ("[[scenarios.a.steps]]\nmutations = [{ op = 'touch', path = 'x', mtime = true }]\n", "is bool"),
        ("[[scenarios.a.steps]]\nmutations = [{ op = 'delete', path = 'x', force = 1 }]\n", "unknown keys: force"),
        ("[[scenarios.a.steps]]\nlabel = 3\n", "`label` is not a string"),
        ("[[scenarios.a.steps]]\nmutations = 'edit'\n", "not an array"),
        ("title = 'x'\n", "no [scenarios.NAME] tables"),
        ("[scenarios\n", "not valid TOML"),
    ],
)
def test_invalid_scenario_files(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / SCENARIO_FILE
    path.write_text(document)
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(tmp_path / "absent.toml")
    assert "not found" in str(caught.value)


def test_float_field_accepts_integer() -> None:
    mutation = mutation_from_table({"op": "touch", "path": "a", "mtime": 5})
    assert mutation.mtime == 5  # type: ignore[attr-defined]


def test_scenario_needs_steps() -> None:
    with pytest.raises(ScenarioError):
        Scenario("empty", ())


def test_step_describes_mutations() -> None:
    scenario = resolve_scenario("build-arg:K=V")
    assert scenario.steps[0].describe() == "cold"
    assert scenario.steps[1].describe() == "--build-arg K=V"
