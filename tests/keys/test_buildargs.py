"""kaniko's build arguments and the RUN environment block."""

from __future__ import annotations

import pytest

from cachelab.dockerfile.errors import DockerfileError, ExpansionError
from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.buildargs import (
    PROXY_ARGS,
    SCRATCH_ENV,
    BuildArgs,
    StageEnv,
    predefined_args,
    strip_enclosing_quotes,
)

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def walk(dockerfile: str, build_args: list[str] | None = None, *, precedence: bool = True,
         base_env: list[str] | None = None) -> list[tuple[str, list[str]]]:
    """Return (instruction text, replacement list before it) for stage 0."""
    parsed = parse_dockerfile(dockerfile)
    args = BuildArgs.from_options(build_args or [], predefined=predefined_args(target_platform="linux/arm64/v8"))
    args.add_meta_args(parsed.meta_args)
    state = StageEnv.for_base([PATH] if base_env is None else base_env, args, arg_precedence=precedence)
    seen = []
    for instruction in parsed.stages[0].instructions:
        seen.append((instruction.text, state.replacement_envs()))
        state.apply(instruction)
    seen.append(("<end>", state.replacement_envs()))
    return seen


def test_proxy_names():
    assert len(PROXY_ARGS) == 10
    assert "no_proxy" in PROXY_ARGS
    assert "ALL_PROXY" in PROXY_ARGS


def test_declared_arg_default_and_override():
    plain = walk("FROM a\nARG V=1\nRUN x\n")
    overridden = walk("FROM a\nARG V=1\nRUN x\n", ["V=2"])

    assert plain[1] == ("RUN x", [PATH, "V=1"])
    assert overridden[1] == ("RUN x", [PATH, "V=2"])


def test_undeclared_build_arg_excluded():
    seen = walk("FROM a\nRUN x\n", ["NOT_DECLARED=1"])

    assert seen[0][1] == [PATH]


def test_proxy_arg_included_without_declaration():
    seen = walk("FROM a\nRUN x\n", ["https_proxy=http://p:1"])

    assert seen[0][1] == [PATH, "https_proxy=http://p:1"]


def test_build_arg_without_value_is_ignored():
    seen = walk("FROM a\nARG V=1\nRUN x\n", ["V"])

    assert seen[1][1] == [PATH, "V=1"]


def test_arg_without_default_and_value_dropped():
    seen = walk("FROM a\nARG V\nRUN x\n")

    assert seen[1][1] == [PATH]


def test_meta_arg_only_when_redeclared():
    dockerfile = "ARG M=meta\nFROM a\nRUN before\nARG M\nRUN after\n"

    seen = walk(dockerfile)

    assert seen[0][1] == [PATH]
    assert seen[2][1] == ["M=meta", PATH]


def test_meta_arg_build_arg_override():
    seen = walk("ARG M=meta\nFROM a\nARG M\nRUN x\n", ["M=cli"])

    assert seen[1][1] == ["M=cli", PATH]


def test_meta_proxy_arg_reaches_stage_without_declaration():
    seen = walk("ARG HTTP_PROXY=http://meta:1\nFROM a\nRUN x\n")

    assert seen[0][1] == ["HTTP_PROXY=http://meta:1", PATH]


def test_meta_arg_default_expansion():
    seen = walk('ARG A="x y"\nARG B=${A}-z\nFROM a\nARG B\nRUN r\n')

    assert seen[1][1] == ["B=x y-z", PATH]


def test_predefined_platform_arg_needs_declaration():
    seen = walk("FROM a\nRUN one\nARG TARGETARCH\nARG TARGETVARIANT\nARG TARGETSTAGE\nRUN two\n")

    assert seen[0][1] == [PATH]
    assert seen[4][1] == [PATH, "TARGETARCH=arm64", "TARGETSTAGE=default", "TARGETVARIANT=v8"]


def test_env_value_expanded_with_args_and_stored():
    seen = walk("FROM a\nARG V=1\nENV X=$V-x Y=\"q r\"\nRUN x\n")

    assert seen[2][1] == [PATH, "V=1", "X=1-x", "Y=q r"]


def test_env_pairs_expand_against_previous_values():
    # kaniko expands every pair of one ENV against the variables before it.
    seen = walk("FROM a\nENV A=1\nENV A=2 B=$A\nRUN x\n")

    assert seen[2][1] == ["A=2", "B=1", PATH]


def test_arg_env_precedence_default_on():
    # ARG wins over an inherited ENV, and a later ENV removes the ARG.
    seen = walk("FROM a\nARG X=arg\nRUN one\nENV X=env\nRUN two\n", base_env=[PATH, "X=base"])

    assert seen[1][1] == [PATH, "X=arg"]
    assert seen[3][1] == [PATH, "X=env"]


def test_arg_env_precedence_off_env_wins():
    seen = walk("FROM a\nARG X=arg\nRUN one\nENV X=env\nRUN two\n", base_env=[PATH, "X=base"],
                precedence=False)

    assert seen[1][1] == [PATH, "X=base"]
    assert seen[3][1] == [PATH, "X=env"]


def test_env_entry_without_equals():
    seen = walk("FROM a\nRUN x\nENV Y=1\nRUN z\n", base_env=[PATH, "BARE"])

    assert seen[0][1] == ["BARE", PATH]
    # kaniko rewrites the whole env list on ENV, turning `BARE` into `BARE=`.
    assert seen[2][1] == ["BARE=", PATH, "Y=1"]


def test_scratch_env_when_base_has_none():
    state = StageEnv.for_base(None, BuildArgs())

    assert state.env == list(SCRATCH_ENV)
    assert StageEnv.for_base([], BuildArgs()).env == []


def test_replacement_sorted_bytewise():
    args = BuildArgs.from_options({"b": "1"})
    args.add_arg("b", None)
    args.add_arg("B", "2")
    args.add_arg("_", "3")

    assert args.replacement_envs(["a=0", "Z=9"]) == ["B=2", "Z=9", "_=3", "a=0", "b=1"]


def test_clone_is_independent():
    args = BuildArgs()
    args.add_arg("A", "1")
    clone = args.clone()
    clone.add_arg("B", "2")
    clone.remove_arg("A")

    assert args.allowed() == {"A": "1"}
    assert clone.allowed() == {"B": "2"}


def test_arg_without_default_takes_earlier_value():
    seen = walk("FROM a\nARG V=1\nARG V\nRUN x\n")

    assert seen[2][1] == [PATH, "V=1"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [('"a b"', "a b"), ("'a'", "a"), ("plain", "plain"), ('\\"a\\"', '\\"a\\"'), ("x", "x"), ("", "")],
)
def test_strip_enclosing_quotes(value, expected):
    assert strip_enclosing_quotes(value) == expected


def test_strip_enclosing_quotes_unmatched():
    with pytest.raises(ExpansionError, match="must be matched"):
        strip_enclosing_quotes('"abc')


def test_apply_error_names_line():
    parsed = parse_dockerfile("FROM a\n\nENV X=${Y?missing}\n")
    state = StageEnv.for_base([PATH], BuildArgs())

    with pytest.raises(DockerfileError) as raised:
        state.apply(parsed.stages[0].instructions[0])
    assert raised.value.line == 3


def test_predefined_args_defaults():
    values = predefined_args(last_stage="final")

    assert values["TARGETSTAGE"] == "final"
    assert values["TARGETPLATFORM"] == values["BUILDPLATFORM"]
    assert values["BUILDOSVERSION"] == ""


def test_meta_default_valueless_build_arg():
    seen = walk("ARG A=${B-unset}\nFROM a\nARG A\nRUN x\n", ["B"])

    assert seen[1][1] == ["A=", PATH]
