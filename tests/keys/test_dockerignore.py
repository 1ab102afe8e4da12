"""`.dockerignore` reading and matching with kaniko's patternmatcher semantics."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cachelab.keys.dockerignore import DockerIgnore, FileContext, has_path_prefix, read_patterns
from cachelab.keys.errors import DockerignoreError


def test_read_patterns_cleaning():
    text = "\ufeff# comment\n  # not a comment\n\n/abs/path\n./dot/./x\n! keep \nsub/\r\n/\n"

    assert read_patterns(text) == ["# not a comment", "abs/path", "dot/x", "!keep", "sub", "/"]


def test_read_patterns_bom_only_first_line():
    assert read_patterns("a\n\ufeffb") == ["a", "\ufeffb"]


# (patterns, path, excluded)
MATCH_TABLE = [
    # plain names and directories
    (["a"], "a", True),
    (["a"], "a/b", True),
    (["a"], "a/b/c", True),
    (["a"], "b/a", False),
    (["a/b"], "a/b/c/d", True),
    (["a/b"], "a", False),
    # single star stays within one component; parent check uses one prefix only
    (["*.txt"], "x.txt", True),
    (["*.txt"], "d/x.txt", False),
    (["*/*.txt"], "d/x.txt", True),
    (["*"], "anything", True),
    (["*"], "x/y", True),
    # question mark and classes
    (["?.go"], "a.go", True),
    (["?.go"], "ab.go", False),
    (["[ab].c"], "b.c", True),
    (["[^ab].c"], "b.c", False),
    (["[^ab].c"], "c.c", True),
    # double star
    (["**/*.log"], "x.log", True),
    (["**/*.log"], "a/b/x.log", True),
    (["**"], "a/b", True),
    (["docs/**"], "docs/x", True),
    (["docs/**"], "docs/a/b", True),
    (["docs/**"], "docs", False),
    (["a/**/b"], "a/b", True),
    (["a/**/b"], "a/x/y/b", True),
    (["**/node_modules"], "node_modules", True),
    (["**/node_modules"], "web/node_modules", True),
    # exceptions, last match wins
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["*.md", "!README.md", "README*"], "README.md", True),
    (["*", "!keep"], "keep", False),
    (["*", "!keep"], "keep/inner", False),
    (["*", "!keep"], "other", True),
    (["!keep"], "keep", False),
    # escapes and regexp metacharacters taken literally
    (["a\\*b"], "a*b", True),
    (["a\\*b"], "axb", False),
    (["a.b"], "axb", False),
    (["a+b(c)"], "a+b(c)", True),
    (["$x"], "$x", True),
    # the context root itself is never excluded
    (["*"], ".", False),
    (["**"], "", False),
]


@pytest.mark.parametrize(("patterns", "path", "excluded"), MATCH_TABLE)
def test_excludes(patterns, path, excluded):
    ignore = DockerIgnore(patterns)

    assert ignore.excludes(path) is excluded


def test_excludes_cleans_path():
    ignore = DockerIgnore(["a/b"])

    assert ignore.excludes("./a//b/")
    assert ignore.excludes("x/../a/b")


def test_invalid_pattern_includes_everything(caplog):
    ignore = DockerIgnore(["*.txt", "[z-a"])
    caplog.set_level(logging.ERROR)

    assert ignore.error is not None
    assert not ignore.excludes("x.txt")
    assert "[z-a" in caplog.text or "syntax error" in caplog.text


def test_invalid_pattern_check_raises():
    ignore = DockerIgnore(["!"], source="/ctx/.dockerignore")

    with pytest.raises(DockerignoreError, match="/ctx/.dockerignore"):
        ignore.check()


def test_find_prefers_dockerfile_specific(tmp_path: Path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / ".dockerignore").write_text("from-context\n")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")

    assert DockerIgnore.find(dockerfile, context).patterns == ["from-context"]

    (tmp_path / "Dockerfile.dockerignore").write_text("from-dockerfile\n")
    found = DockerIgnore.find(dockerfile, context)

    assert found.patterns == ["from-dockerfile"]
    assert found.source == str(tmp_path / "Dockerfile.dockerignore")


def test_find_none(tmp_path: Path):
    assert DockerIgnore.find(tmp_path / "Dockerfile", tmp_path).patterns == []


def test_file_context_relative_matching(tmp_path: Path):
    context = FileContext(str(tmp_path), DockerIgnore(["secret", "*.log"]))

    assert context.excludes_file(str(tmp_path / "secret"))
    assert context.excludes_file(str(tmp_path / "secret" / "inner"))
    assert context.excludes_file(str(tmp_path / "app.log"))
    assert not context.excludes_file(str(tmp_path / "app.txt"))
    assert not context.excludes_file(str(tmp_path))


def test_allowlist_matches_paths_outside_context_unless_scoped(tmp_path: Path):
    # An allow-list excludes every absolute path outside the context through its
    # first component "" unless the scoped flag is on.
    ignore = DockerIgnore(["*", "!app"])
    legacy = FileContext(str(tmp_path), ignore)
    scoped = FileContext(str(tmp_path), ignore, scoped=True)

    assert legacy.excludes_file("/kaniko/deps/1/app/x")
    assert not scoped.excludes_file("/kaniko/deps/1/app/x")
    assert not legacy.excludes_file(str(tmp_path / "app"))
    assert legacy.excludes_file(str(tmp_path / "other"))


def test_absolute_pattern_matches_outside_path_as_written(tmp_path: Path):
    context = FileContext(str(tmp_path), DockerIgnore(read_patterns("/kaniko/deps\n")))

    # The leading slash of the pattern is removed, the path keeps it: no match.
    assert not context.excludes_file("/kaniko/deps/1/x")


def test_from_dockerfile_precompile_raises(tmp_path: Path):
    (tmp_path / ".dockerignore").write_text("ok\n[\n")

    with pytest.raises(DockerignoreError):
        FileContext.from_dockerfile(tmp_path / "Dockerfile", tmp_path, precompile=True)

    lenient = FileContext.from_dockerfile(tmp_path / "Dockerfile", tmp_path)
    assert not lenient.excludes_file(str(tmp_path / "ok"))


def test_has_path_prefix_componentwise():
    assert has_path_prefix("/ctx/a", "/ctx")
    assert has_path_prefix("/ctx", "/ctx")
    assert not has_path_prefix("/ctxfoo/a", "/ctx")
    assert not has_path_prefix("/other", "/ctx")
