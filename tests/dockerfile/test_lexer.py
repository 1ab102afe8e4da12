"""Variable expansion against the table in expansion_cases.txt."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from cachelab.dockerfile import (
    ExpansionError,
    expand,
    expand_word,
    expand_words,
    resolve_variables,
)

CASES_FILE = Path(__file__).with_name("expansion_cases.txt")


@dataclass(frozen=True)
class Case:
    line: int
    mode: str
    text: str
    env: dict[str, str]
    expected: str


def _read_cases() -> list[Case]:
    cases = []
    for number, raw in enumerate(CASES_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = [field.strip() for field in raw.split("|")]
        assert len(fields) == 4, f"{CASES_FILE.name}:{number}: expected 4 fields, got {raw!r}"
        mode, text, env_field, expected = fields
        env = {}
        if env_field != "-":
            for pair in env_field.split(";"):
                name, _, value = pair.partition("=")
                env[name] = value
        cases.append(Case(number, mode, text, env, expected))
    return cases


CASES = _read_cases()


def _run(case: Case) -> object:
    if case.mode == "word":
        return expand_word(case.text, case.env)
    if case.mode == "word`":
        return expand_word(case.text, case.env, escape="`")
    if case.mode == "words":
        return expand_words(case.text, case.env)
    if case.mode == "resolve":
        return resolve_variables(case.text, case.env)
    raise AssertionError(f"unknown mode {case.mode!r} on line {case.line}")


def test_table_has_enough_cases():
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[f"line{case.line}" for case in CASES])
def test_expansion_case(case: Case):
    if case.expected.startswith("!"):
        with pytest.raises(ExpansionError) as raised:
            _run(case)
        assert case.expected[1:] in str(raised.value)
        return

    expected: object = case.expected
    if case.mode == "words":
        expected = json.loads(case.expected)
    assert _run(case) == expected


def test_expand_reports_matched_and_unmatched():
    result = expand("$A ${B:-x} $C", {"A": "1", "C": "3"})

    assert result.value == "1 x 3"
    assert result.matched == {"A", "C"}
    assert result.unmatched == {"B"}


def test_expansion_error_names_word():
    with pytest.raises(ExpansionError) as raised:
        expand_word("x ${Y:?required}", {})

    assert str(raised.value) == 'failed to process "x ${Y:?required}": Y: required'
    assert raised.value.line is None


def test_expansion_error_located():
    with pytest.raises(ExpansionError) as raised:
        expand_word("${", {})

    located = raised.value.located("Dockerfile", 7)

    assert isinstance(located, ExpansionError)
    assert str(located).startswith("Dockerfile:7: failed to process")


def test_invalid_escape_character_rejected():
    with pytest.raises(ValueError):
        expand_word("x", {}, escape="!")
