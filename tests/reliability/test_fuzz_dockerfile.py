"""Mutated Dockerfiles through the front end: a result or a DockerfileError, nothing else.

Seeds are the example Dockerfiles, the kaniko case Dockerfiles and a few
hand-written ones that reach rarely used syntax. When the reference corpus is
present, its real-world Dockerfiles are fuzzed too. Mutations are byte-level
and token-level edits (deletions, insertions of Dockerfile syntax, line swaps,
truncation), so most inputs stay close to valid ones and reach deep code.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachelab.dockerfile import DockerfileError, parse_dockerfile
from tests.fixtures.paths import REPO_ROOT
from tests.reliability.frontend import run_front_end
from tests.reliability.tally import TALLY

# Hypothesis imports a deprecated mypy_extensions name while it reports a failing
# example; with warnings as errors that would hide the example.
pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")

HAND_SEEDS = [
    "# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox AS a\nRUN echo `\n  hi\nCOPY --from=a / /x\n",
    (
        "ARG BASE=busybox\nARG TAG\nFROM ${BASE}:${TAG:-latest} AS b\nARG TAG\nENV A=${TAG:+set} B=\"${A}\"\n"
        "LABEL x=\"$A\" y='${B}'\nFROM b\nONBUILD RUN echo $A\n"
    ),
    "FROM busybox\nRUN <<EOF bash\necho ${HOME}\nEOF\nCOPY <<-EOT /etc/x\n\tline\nEOT\n",
    (
        "FROM scratch AS s\nFROM busybox\nCOPY --from=s --chown=1:1 --chmod=755 a* /d/\n"
        "RUN --mount=type=cache,target=/c --mount=type=bind,from=s,source=/,target=/m true\n"
    ),
    (
        "FROM --platform=$BUILDPLATFORM busybox AS x\nHEALTHCHECK --interval=5s CMD [\"true\"]\n"
        "SHELL [\"/bin/sh\", \"-c\"]\nENTRYPOINT [\"a\", \"b\"]\nUSER 1000:1000\nWORKDIR ${HOME}/w\nVOLUME /v\n"
        "EXPOSE 80/tcp\nSTOPSIGNAL SIGTERM\nADD --checksum=sha256:00 http://127.0.0.1/x /x\n"
    ),
]

# Fragments that steer mutations towards the parser's and lexer's special cases.
TOKENS = [
    "\\\n", "`\n", "\n", " ", "\t", "$", "${", "}", "${X:-", "${X:+", "${X?", "${X#", "${X%", "'", "\"", "\\",
    "<<EOF\n", "<<-EOF\n", "EOF\n", "--from=", "--from=0", "--mount=type=", "--chown=", "--platform=", "AS ",
    "FROM ", "RUN ", "COPY ", "ARG ", "ENV ", "ONBUILD ", "# escape=`\n", "# syntax=x\n", "[", "]", "\",", "=",
    "\x00", "\u00e9", "\ufeff", "\r\n", "#", "0", "9999999999",
]


def repository_seeds() -> list[str]:
    paths = sorted((REPO_ROOT / "datasets" / "examples").glob("*/Dockerfile"))
    paths += sorted((REPO_ROOT / "tests" / "cases").glob("*/Dockerfile*"))
    return [path.read_text(encoding="utf-8") for path in paths] + HAND_SEEDS


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str:
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        kind = draw(st.sampled_from(["delete", "insert", "token", "swap", "duplicate", "truncate", "flip"]))
        position = draw(st.integers(min_value=0, max_value=max(len(text), 1))) if text else 0
        if kind == "delete":
            text = text[:position] + text[position + draw(st.integers(min_value=1, max_value=40)):]
        elif kind == "insert":
            text = text[:position] + draw(st.text(max_size=12)) + text[position:]
        elif kind == "token":
            text = text[:position] + draw(st.sampled_from(TOKENS)) + text[position:]
        elif kind == "truncate":
            text = text[:position]
        elif kind == "flip" and text:
            index = min(position, len(text) - 1)
            text = text[:index] + chr(ord(text[index]) ^ draw(st.integers(min_value=1, max_value=127))) + text[index + 1:]
        else:
            lines = text.split("\n")
            first = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            second = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            if kind == "swap":
                lines[first], lines[second] = lines[second], lines[first]
            else:
                lines.insert(second, lines[first])
            text = "\n".join(lines)
    return text


SEEDS = repository_seeds()


def test_lone_continuation_rejected() -> None:
    with pytest.raises(DockerfileError) as raised:
        parse_dockerfile("\\\n", "fuzz/Dockerfile")

    assert raised.value.line == 1
    assert "line continuation" in str(raised.value)


def test_non_ascii_flag_value_kept() -> None:
    dockerfile = parse_dockerfile("FROM busybox\nCOPY --chown=usér:日本 a b\n")

    assert dockerfile.stages[0].instructions[0].flags == (("chown", ("usér:日本",)),)


def test_undecodable_flag_rejected_with_line() -> None:
    with pytest.raises(DockerfileError) as raised:
        parse_dockerfile("FROM busybox\nRUN true\nCOPY --\U00107151 a b\n", "fuzz/Dockerfile")

    assert raised.value.line == 3


def check_mutated_seed(text: str) -> None:
    TALLY["Dockerfiles fuzzed"] += 1
    assert run_front_end(text) in ("ok", "error")


test_mutated_seeds_parse_or_fail_cleanly = settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None,
)(given(text=mutated(SEEDS))(check_mutated_seed))

test_many_mutated_seeds_parse_or_fail_cleanly = pytest.mark.slow(settings(
    max_examples=6000, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None,
)(given(text=mutated(SEEDS))(check_mutated_seed)))


@settings(max_examples=200, deadline=None, database=None)
@given(text=st.lists(st.sampled_from(TOKENS + list("abcFROMRUN =:/-.\n")), max_size=60).map("".join))
def test_token_soup_parses_or_fails_cleanly(text: str) -> None:
    TALLY["Dockerfiles fuzzed"] += 1
    assert run_front_end(text) in ("ok", "error")


def shared_corpus_texts(shared: Path) -> list[str]:
    files = sorted(path for path in (shared / "corpora").glob("*/files/**/*") if path.is_file())
    return [path.read_text(encoding="utf-8", errors="replace") for path in files]


@pytest.mark.corpus
def test_shared_corpus_unmutated(shared: Path) -> None:
    texts = shared_corpus_texts(shared)
    outcomes = [run_front_end(text) for text in texts]
    TALLY["corpus Dockerfiles parsed unmutated"] += len(texts)

    assert len(texts) >= 100
    assert outcomes.count("ok") > len(texts) // 2


@pytest.mark.corpus
def test_shared_corpus_mutated(shared: Path) -> None:
    texts = shared_corpus_texts(shared)
    sample = random.Random(7).sample(texts, min(60, len(texts)))

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(text=mutated(sample))
    def check(text: str) -> None:
        TALLY["Dockerfiles fuzzed"] += 1
        assert run_front_end(text) in ("ok", "error")

    check()
