"""StageEnv's cached replacement list and the ENV/ARG transition memo."""

from __future__ import annotations

import pytest

from cachelab.dockerfile.errors import ExpansionError
from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.buildargs import BuildArgs, StageEnv, TransitionMemo, predefined_args

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

STAGE = """\
ARG META=m1
FROM a
ARG META
ARG V=1
ENV A=$V B=${META}-x
ARG V=2 W
ENV V=env
RUN x
"""


def base_args(build_args: list[str] | None = None) -> BuildArgs:
    parsed = parse_dockerfile(STAGE)
    args = BuildArgs.from_options(build_args or ["W=opt"], predefined=predefined_args(target_platform="linux/amd64"))
    args.add_meta_args(parsed.meta_args)
    return args


def replay(state: StageEnv) -> list[list[str]]:
    """Apply the stage's instructions; return the replacement list before each and at the end."""
    seen = []
    for instruction in parse_dockerfile(STAGE).stages[0].instructions:
        seen.append(state.replacement_envs())
        state.apply(instruction)
    seen.append(state.replacement_envs())
    return seen


def test_tracked_state_matches_untracked():
    args = base_args()
    plain = replay(StageEnv.for_base([PATH], args.clone()))

    memo = TransitionMemo()
    first = StageEnv.for_base([PATH], args.clone())
    first.track(memo)
    second = StageEnv.for_base([PATH], args.clone())
    second.track(memo)

    assert replay(first) == plain
    assert replay(second) == plain
    assert plain[-1] == sorted(["A=1", "B=m1-x", "META=m1", "W=opt", PATH, "V=env"])


def test_memo_hit_skips_expansion(monkeypatch):
    args = base_args()
    parsed = parse_dockerfile(STAGE)
    memo = TransitionMemo()
    first = StageEnv.for_base([PATH], args.clone())
    first.track(memo)
    for instruction in parsed.stages[0].instructions:
        first.apply(instruction)

    def fail(self, instruction):  # type: ignore[no-untyped-def]
        raise AssertionError(f"{instruction.text!r} was expanded again")

    monkeypatch.setattr(StageEnv, "_apply_env", fail)
    monkeypatch.setattr(StageEnv, "_apply_arg", fail)
    second = StageEnv.for_base([PATH], args.clone())
    second.track(memo)
    for instruction in parsed.stages[0].instructions:
        second.apply(instruction)

    assert second.replacement_envs() == first.replacement_envs()
    assert second.args.declared == first.args.declared
    assert second.env == first.env


def test_memo_per_instruction_object():
    # Equal text in another Dockerfile is another instruction: no hit across them.
    args = base_args()
    memo = TransitionMemo()
    first = StageEnv.for_base([PATH], args.clone())
    first.track(memo)
    first.apply(parse_dockerfile("FROM a\nENV A=1\n").stages[0].instructions[0])
    second = StageEnv.for_base([PATH], args.clone())
    second.track(memo)
    second.apply(parse_dockerfile("FROM a\nENV A=2\n").stages[0].instructions[0])

    assert "A=1" in first.replacement_envs()
    assert "A=2" in second.replacement_envs()


def test_copy_keeps_state_and_memo():
    args = base_args()
    memo = TransitionMemo()
    state = StageEnv.for_base([PATH], args.clone())
    state.track(memo)
    instructions = parse_dockerfile(STAGE).stages[0].instructions
    state.apply(instructions[0])

    copied = state.copy()
    copied.apply(instructions[1])

    assert copied.args is not state.args
    assert "V=1" in copied.replacement_envs()
    assert "V=1" not in state.replacement_envs()


def test_cache_sees_build_args_methods():
    state = StageEnv.for_base([PATH], BuildArgs())
    before = state.replacement_envs()

    state.args.add_arg("NEW", "value")
    added = state.replacement_envs()
    state.args.remove_arg("NEW")
    removed = state.replacement_envs()

    assert before == [PATH]
    assert added == ["NEW=value", PATH]
    assert removed == [PATH]


def test_cache_sees_new_env_list():
    memo = TransitionMemo()
    state = StageEnv.for_base([PATH], BuildArgs())
    state.track(memo)
    state.replacement_envs()

    state.env = [PATH, "X=1"]

    assert state.replacement_envs() == [PATH, "X=1"]
    # A state changed outside `apply` leaves the memo.
    assert state._token is None


def test_returned_lists_are_copies():
    state = StageEnv.for_base([PATH], BuildArgs())

    state.replacement_envs().append("JUNK=1")
    state.variables()["JUNK"] = "1"

    assert state.replacement_envs() == [PATH]
    assert "JUNK" not in state.variables()


def test_failed_arg_leaves_no_token():
    memo = TransitionMemo()
    state = StageEnv.for_base([PATH], BuildArgs())
    state.track(memo)
    bad = parse_dockerfile("FROM a\nARG OK=1 BAD=${X\n").stages[0].instructions[0]

    with pytest.raises(ExpansionError, match=":2: failed to process"):
        state.apply(bad)

    assert "OK=1" in state.replacement_envs()
    assert state._token is None


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["b=1", "a=2", "B=3"], ["B=3", "a=2", "b=1"]),
        # Sorted by UTF-8 bytes: a lone surrogate from surrogateescape is byte 0x80..0xff.
        (["\udcff=1", "\u00e9=2", "z=3"], ["z=3", "\u00e9=2", "\udcff=1"]),
    ],
)
def test_replacement_sorted_by_bytes(entries, expected):
    assert BuildArgs().replacement_envs(entries) == expected
