"""A scenario whose `steps` has the wrong TOML type is reported as that, not as having no steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.study.errors import ScenarioError
from cachelab.study.scenario import SCENARIO_FILE, load_scenarios


@pytest.mark.parametrize(
    ("value", "toml_type"),
    [('"no"', "a string"), ("3", "an integer"), ("true", "a boolean"), ("{ a = 1 }", "a table")],
)
def test_steps_wrong_type_named(tmp_path: Path, value: str, toml_type: str) -> None:
    path = tmp_path / SCENARIO_FILE
    path.write_text(f"[scenarios.a]\nsteps = {value}\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenarios(path)

    assert str(caught.value) == f"{path}: scenario 'a': `steps` is {toml_type}, not an array of tables"
    assert caught.value.hint is not None
    assert "[[scenarios.NAME.steps]]" in caught.value.hint


def test_missing_steps_still_reported(tmp_path: Path) -> None:
    path = tmp_path / SCENARIO_FILE
    path.write_text("[scenarios.a]\ndescription = 'x'\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenarios(path)

    assert str(caught.value) == f"{path}: scenario 'a' has no steps"
