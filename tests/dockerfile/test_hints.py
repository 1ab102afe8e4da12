"""Every hint of the Dockerfile layer is one full sentence, as in the other layers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cachelab.dockerfile import DockerfileError, load_dockerfile, parse_dockerfile, plan_stages

# (case id, Dockerfile text) that parse_dockerfile rejects with a hint.
PARSE_ERRORS = [
    ("before-from", "ARG X\nRUN true\nFROM a\n"),
    ("no-from", "ARG X=1\n"),
    ("no-instructions", "# only a comment\n"),
    ("duplicate-directive", "# escape=\\\n# escape=`\nFROM a\n"),
    ("bad-escape", "# escape=x\nFROM a\n"),
    # The `dockerfile` package fails to decode a flag word containing U+0800.
    ("undecodable-flag", "FROM a\nCOPY --from=\u0800 a b\n"),
    ("lone-continuation", "FROM a\n\\\n"),
    ("unknown-instruction", "FROM a\nWORKDRI /x\n"),
    ("onbuild-empty", "FROM a\nRUN x\nONBUILD\n"),
    ("bad-stage-name", "FROM a AS 1st\n"),
    ("from-extra-words", "FROM a b\n"),
    ("duplicate-flag", "FROM a\nCOPY --from=a --from=b x y\n"),
    ("bad-boolean", "FROM a\nCOPY --link=maybe x y\n"),
    ("flag-without-value", "FROM a\nCOPY --from x /a /b\n"),
    ("unknown-flag-close", "FROM a\nRUN --mnt=type=cache,target=/c x\n"),
    ("unknown-flag-far", "FROM a\nCOPY --zzzzzz=1 a b\n"),
    ("mount-key-close", "FROM a\nRUN --mount=type=cache,traget=/v x\n"),
    ("mount-key-far", "FROM a\nRUN --mount=type=cache,zzzzzz=1 x\n"),
    ("mount-type", "FROM a\nRUN --mount=type=volume,target=/v x\n"),
    ("unterminated-heredoc", "FROM a\nRUN <<EOF\necho hi\n"),
    ("onbuild-onbuild", "FROM a\nONBUILD ONBUILD RUN x\n"),
    ("onbuild-from", "FROM a\nONBUILD FROM b\n"),
    ("onbuild-maintainer", "FROM a\nONBUILD MAINTAINER me\n"),
]

# (case id, Dockerfile text, targets) that plan_stages rejects with a hint.
GRAPH_ERRORS = [
    ("duplicate-stage", "FROM a AS x\nFROM b AS X\n", ()),
    ("target-close", "FROM a AS builder\nFROM b AS runtime\n", ("runtme",)),
    ("target-far", "FROM a AS builder\nFROM b AS runtime\n", ("zzzzzz",)),
    ("target-no-names", "FROM a\nFROM b\n", ("runtime",)),
    ("empty-from", "ARG E=\nFROM a\nCOPY --from=$E /x /y\n", ()),
    ("index-out-of-range", "FROM a\nFROM b\nCOPY --from=5 /x /y\n", ()),
    ("forward-index", "FROM a\nCOPY --from=1 /x /y\nFROM b\n", ()),
    ("empty-base", "ARG BASE\nFROM $BASE\n", ()),
]

# A capital letter or a backtick first, a period last, no question.
SENTENCE = re.compile(r"^[A-Z`].*\.$", re.DOTALL)


def _assert_sentence(hint: str | None) -> None:
    assert hint is not None
    assert SENTENCE.match(hint), hint
    assert "?" not in hint


@pytest.mark.parametrize("text", [case[1] for case in PARSE_ERRORS], ids=[case[0] for case in PARSE_ERRORS])
def test_parse_hint_is_sentence(text: str) -> None:
    with pytest.raises(DockerfileError) as raised:
        parse_dockerfile(text)

    _assert_sentence(raised.value.hint)


@pytest.mark.parametrize(
    ("text", "targets"),
    [case[1:] for case in GRAPH_ERRORS],
    ids=[case[0] for case in GRAPH_ERRORS],
)
def test_graph_hint_is_sentence(text: str, targets: tuple[str, ...]) -> None:
    dockerfile = parse_dockerfile(text)

    with pytest.raises(DockerfileError) as raised:
        plan_stages(dockerfile, targets=list(targets))

    _assert_sentence(raised.value.hint)


def test_undecodable_file_hint_is_sentence(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM a\nRUN \xff\n")

    with pytest.raises(DockerfileError) as raised:
        load_dockerfile(path)

    assert raised.value.hint == "Save the Dockerfile as UTF-8."


def test_hints_name_the_suggestion() -> None:
    cases = {
        "FROM a\nWORKDRI /x\n": "WORKDIR",
        "FROM a\nRUN --mnt=type=cache,target=/c x\n": "--mount",
        "FROM a\nRUN --mount=type=cache,traget=/v x\n": "'target'",
    }
    for text, suggestion in cases.items():
        with pytest.raises(DockerfileError) as raised:
            parse_dockerfile(text)
        assert suggestion in (raised.value.hint or ""), text


def test_index_hint_names_valid_range() -> None:
    dockerfile = parse_dockerfile("FROM a\nFROM b\nCOPY --from=5 /x /y\n")

    with pytest.raises(DockerfileError) as raised:
        plan_stages(dockerfile)

    assert "0 to 1" in (raised.value.hint or "")


@pytest.mark.parametrize(("text", "expected"), [
    ("FROM a\nRUN <<EOF\necho hi\n", "End the heredoc with a line that contains only EOF."),
    ("FROM a\nRUN <<-\"END\" cat\necho hi\n",
     "End the heredoc with a line that contains only END, optionally indented with tabs because of <<-."),
])
def test_unterminated_heredoc_hint_names_delimiter(text: str, expected: str) -> None:
    with pytest.raises(DockerfileError) as raised:
        parse_dockerfile(text)

    assert raised.value.line == 2
    assert raised.value.hint == expected
