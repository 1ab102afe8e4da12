"""Each bad Dockerfile raises DockerfileError naming the right line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.corpus.scan import scan_text
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
    ("copy-one-argument", "FROM a\nCOPY only\n", 2, "COPY requires at least two arguments, found 1"),
    ("copy-heredoc-destination", "FROM a\nCOPY <<EOF <<DST\nx\nEOF\ny\nDST\n", 2, "heredoc as its destination"),
    ("env-bare", "FROM a\nENV\n", 2, "ENV requires at least one argument, found 0"),
    ("env-empty-name", "FROM a\nENV A=1 =2\n", 2, "ENV has an empty name"),
    ("label-bare", "FROM a\nLABEL\n", 2, "LABEL requires at least one argument"),
    ("label-empty-name", "FROM a\nLABEL =x\n", 2, "LABEL has an empty name"),
    ("arg-empty-name", "FROM a\nARG =x\n", 2, "ARG has an empty name"),
    ("expose-bare", "FROM a\nEXPOSE\n", 2, "EXPOSE requires at least one argument"),
    ("volume-bare", "FROM a\nVOLUME\n", 2, "VOLUME requires at least one argument"),
    ("volume-empty-array", "FROM a\nVOLUME []\n", 2, "VOLUME requires at least one argument"),
    ("volume-blank-path", "FROM a\nVOLUME [\"/a\", \" \"]\n", 2, "VOLUME has an empty path"),
    ("maintainer-bare", "FROM a\nMAINTAINER\n", 2, "MAINTAINER requires exactly one argument, found 0"),
    ("user-bare", "FROM a\nUSER\n", 2, "USER requires exactly one argument, found 0"),
    ("workdir-bare", "FROM a\nWORKDIR\n", 2, "WORKDIR requires exactly one argument, found 0"),
    ("stopsignal-bare", "FROM a\nSTOPSIGNAL\n", 2, "STOPSIGNAL requires exactly one argument"),
    ("shell-bare", "FROM a\nSHELL\n", 2, "SHELL requires at least one argument"),
    ("shell-shell-form", "FROM a\nSHELL echo\n", 2, "SHELL requires a JSON array"),
    ("shell-empty-array", "FROM a\nSHELL []\n", 2, "its JSON array is empty"),
    ("healthcheck-bare", "FROM a\nHEALTHCHECK\n", 2, "HEALTHCHECK requires at least one argument"),
    ("healthcheck-none-words", "FROM a\nHEALTHCHECK NONE x\n", 2, "HEALTHCHECK NONE takes no arguments"),
    ("healthcheck-type", "FROM a\nHEALTHCHECK RUN true\n", 2, "unknown HEALTHCHECK type 'RUN'"),
    ("healthcheck-no-command", "FROM a\nHEALTHCHECK CMD []\n", 2, "HEALTHCHECK CMD has no command"),
    ("healthcheck-duration", "FROM a\nHEALTHCHECK --interval=bad CMD true\n", 2, "invalid HEALTHCHECK --interval"),
    ("healthcheck-below-1ms", "FROM a\nHEALTHCHECK --timeout=500us CMD true\n", 2, "less than 1ms"),
    ("healthcheck-negative", "FROM a\nHEALTHCHECK --start-period=-1s CMD true\n", 2, "less than 1ms"),
    ("healthcheck-too-long", "FROM a\nHEALTHCHECK --interval=2562048h CMD true\n", 2, "too large"),
    ("healthcheck-retries", "FROM a\nHEALTHCHECK --retries=x CMD true\n", 2, "not a whole number"),
    ("healthcheck-negative-retries", "FROM a\nHEALTHCHECK --retries=-1 CMD true\n", 2, "out of range"),
    ("onbuild-bare-env", "FROM a\nRUN x\nONBUILD ENV\n", 3, "ENV requires at least one argument"),
    ("run-network-bridge", "FROM a\nRUN --network=bridge x\n", 2, "invalid RUN --network value 'bridge'"),
    ("run-network-variable", "FROM a\nRUN --network=$NET x\n", 2, "invalid RUN --network value '$NET'"),
    ("run-security", "FROM a\nRUN --security=strict x\n", 2, "invalid RUN --security value 'strict'"),
    ("mount-from-variable", "FROM a\nRUN --mount=from=$STAGE,target=/s x\n", 2, "'from' cannot use a variable"),
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


# Instructions that BuildKit's instruction parser accepts although they look
# incomplete, so the parser must accept them too.
ACCEPTED_INPUTS = [
    ("run-bare", "RUN\n"),
    ("run-empty-array", "RUN []\n"),
    ("cmd-bare", "CMD\n"),
    ("entrypoint-empty-array", "ENTRYPOINT []\n"),
    # USER, MAINTAINER and STOPSIGNAL keep the rest of the line as one argument.
    ("user-two-words", "USER a b\n"),
    ("maintainer-two-words", "MAINTAINER Jane Doe\n"),
    ("stopsignal-unknown-flag", "STOPSIGNAL --x=1 SIGTERM\n"),
    ("healthcheck-none-flags", "HEALTHCHECK --interval=bad --foo NONE\n"),
    ("healthcheck-signs", "HEALTHCHECK --interval=+5s --timeout=-0 --retries=+3 CMD true\n"),
    ("healthcheck-zero-and-empty", "HEALTHCHECK --interval=0 --timeout= --retries= CMD true\n"),
    ("healthcheck-empty-exec-command", 'HEALTHCHECK CMD [""]\n'),
    ("env-quoted-empty-name", 'ENV ""=1\n'),
    ("run-network-modes", "RUN --network=none --security=insecure x\n"),
    ("mount-from-trailing-dollar", "RUN --mount=from=stage$,target=/s x\n"),
]


@pytest.mark.parametrize("text", [case[1] for case in ACCEPTED_INPUTS], ids=[case[0] for case in ACCEPTED_INPUTS])
def test_buildkit_accepted_instruction_parses(text: str):
    (instruction,) = parse_dockerfile("FROM a\n" + text).stages[0].instructions

    assert instruction.start_line == 2


def test_ignored_flags_are_dropped():
    stopsignal, healthcheck = parse_dockerfile(
        "FROM a\nSTOPSIGNAL --x=1 SIGTERM\nHEALTHCHECK --interval=5s NONE\n"
    ).stages[0].instructions

    assert stopsignal.args == ("SIGTERM",)
    assert stopsignal.flags == ()
    assert healthcheck.flags == ()


def test_argument_errors_have_hints():
    for text in ("ENV\n", "USER\n", "SHELL []\n", "HEALTHCHECK --interval=bad CMD true\n"):
        with pytest.raises(DockerfileError) as raised:
            parse_dockerfile("FROM a\n" + text)
        assert raised.value.hint, text


def test_scan_counts_bad_healthcheck_as_failed():
    row = scan_text("FROM scratch\nHEALTHCHECK --interval=bad CMD true\n", path="Dockerfile")

    assert row.parsed is False
    assert row.error_line == 2
    assert "invalid HEALTHCHECK --interval duration 'bad'" in (row.error or "")


def test_keys_command_rejects_shell_form(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\nSHELL echo\n", encoding="utf-8")

    code = main(["keys", str(dockerfile), "--context", str(tmp_path)])

    assert code != 0
    assert f"{dockerfile}:2: SHELL requires a JSON array" in capsys.readouterr().err
