"""Each bad Dockerfile raises DockerfileError naming the right line."""

from __future__ import annotations

import pytest

from cachelab.dockerfile import DockerfileError, parse_dockerfile, plan_stages

# (case id, text, expected line, text the message contains)
BAD_INPUTS = [
    ("env-one-word", "FROM a\nRUN true\nENV ONLY\nRUN true\n", 3, "ENV must have two arguments"),
    ("label-one-word", "FROM a\n\n# note\nLABEL x\n", 4, "LABEL must have two arguments"),
    (
        "unterminated-heredoc",
        "FROM a\nRUN <<A cat\nx\nA\nRUN true\nRUN <<EOF\nnever closed\n",
        6,
        "unterminated heredoc",
    ),
    ("unknown-instruction", "FROM a\nRUN true\nCOPPY a b\n", 3, "unknown instruction: COPPY"),
    ("unknown-flag", "FROM a\nCOPY --chwon=1 a b\n", 2, "unknown flag --chwon on COPY"),
    ("flag-on-flagless", "FROM a\nWORKDIR --x=1 /w\n", 2, "WORKDIR takes no flags"),
    ("flag-without-value", "FROM a\nCOPY --from x /a /b\n", 2, "missing value for flag --from"),
    ("duplicate-flag", "FROM a\nCOPY --from=a --from=b x y\n", 2, "duplicate flag --from"),
    ("bad-boolean", "FROM a\nCOPY --link=maybe x y\n", 2, "invalid value 'maybe'"),
    ("bad-mount-type", "FROM a\nRUN --mount=type=volume,target=/v x\n", 2, "unknown --mount type"),
    ("bad-mount-key", "FROM a\nRUN --mount=type=cache,traget=/v x\n", 2, "unknown --mount option"),
    ("bare-mount-key", "FROM a\nRUN --mount=type=cache,target x\n", 2, "needs a value"),
    ("before-from", "ARG X\nRUN true\nFROM a\n", 2, "RUN comes before the first FROM"),
    ("onbuild-from", "FROM a\nONBUILD FROM b\n", 2, "FROM is not allowed as an ONBUILD trigger"),
    ("onbuild-empty", "FROM a\nRUN x\nONBUILD\n", 3, "ONBUILD requires an instruction"),
    ("bad-stage-name", "FROM a AS 1st\n", 1, "invalid stage name"),
    ("from-extra-words", "FROM a b\n", 1, "FROM requires one image"),
    ("copy-one-argument", "FROM a\nCOPY only\n", 2, "COPY requires at least 2 arguments"),
    ("duplicate-directive", "# escape=\\\n# escape=`\nFROM a\n", 2, "only one escape"),
    ("bad-escape", "# escape=x\nFROM a\n", 1, "invalid escape character"),
]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_parse_error_line(text: str, line: int, message: str):
    with pytest.raises(DockerfileError) as raised:
        parse_dockerfile(text, "ci/Dockerfile")

    assert raised.value.line == line
    assert raised.value.path == "ci/Dockerfile"
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"ci/Dockerfile:{line}: ")


def test_unknown_instruction_suggests_match():
    with pytest.raises(DockerfileError) as raised:
        parse_dockerfile("FROM a\nWORKDRI /x\n")

    assert raised.value.hint == "Write WORKDIR if that is the instruction you meant."


def test_unknown_flag_suggests_match():
    with pytest.raises(DockerfileError) as raised:
        parse_dockerfile("FROM a\nRUN --mnt=type=cache,target=/c x\n")

    assert raised.value.hint == "Write --mount if that is the flag you meant."


def test_no_from_rejected():
    with pytest.raises(DockerfileError) as raised:
        parse_dockerfile("ARG X=1\n")

    assert "no FROM instruction" in str(raised.value)


def test_empty_file_rejected():
    with pytest.raises(DockerfileError) as raised:
        parse_dockerfile("# only a comment\n")

    assert "no instructions" in str(raised.value)


GRAPH_ERRORS = [
    (
        "forward-name",
        "FROM a AS one\nCOPY --from=two /x /y\nFROM b AS two\n",
        2,
        "not defined before",
    ),
    ("forward-index", "FROM a\nCOPY --from=1 /x /y\nFROM b\n", 2, "not defined before"),
    ("self-index", "FROM a\nRUN x\nCOPY --from=0 /x /y\n", 3, "not defined before"),
    ("index-out-of-range", "FROM a\nFROM b\nCOPY --from=5 /x /y\n", 3, "has 2 stages"),
    (
        "mount-forward",
        "FROM a\nRUN --mount=from=later,target=/l true\nFROM b AS later\n",
        2,
        "not defined before",
    ),
    ("duplicate-stage", "FROM a AS x\nFROM b AS X\n", 2, "duplicate stage name 'x'"),
    ("empty-base", "ARG BASE\nFROM $BASE\n", 2, "expands to an empty name"),
    ("bad-substitution", "FROM ${}\n", 1, "bad substitution"),
]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [case[1:] for case in GRAPH_ERRORS],
    ids=[case[0] for case in GRAPH_ERRORS],
)
def test_graph_error_line(text: str, line: int, message: str):
    dockerfile = parse_dockerfile(text, "Dockerfile")

    with pytest.raises(DockerfileError) as raised:
        plan_stages(dockerfile)

    assert raised.value.line == line
    assert message in str(raised.value)


def test_unknown_target_suggests_name():
    dockerfile = parse_dockerfile("FROM a AS builder\nFROM b AS runtime\n")

    with pytest.raises(DockerfileError) as raised:
        plan_stages(dockerfile, targets=["runtme"])

    assert "target stage 'runtme' not found" in str(raised.value)
    assert raised.value.hint == "Use 'runtime' if that is the stage you meant."
