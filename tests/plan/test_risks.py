"""Static risks: which ADD sources count as Git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.flags import profile
from cachelab.plan.memory import MemoryCache
from cachelab.plan.planner import Planner
from cachelab.plan.risks import is_git_source
from tests.plan.test_render import BASE, NOW, images


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("https://example.org/repo.git", True),
        ("https://example.org/repo.git?ref=v1", True),
        ("https://example.org/repo.git?ref=v1&subdir=docs", True),
        ("https://example.org/repo.git#v1:docs", True),
        ("https://example.org/repo.git/", True),
        ("git://example.org/repo", True),
        ("git@example.org:team/repo.git", True),
        ("git@example.org:team/repo#main", True),
        ("ssh://git@example.org/team/repo.git", True),
        ("https://example.org/file.tgz", False),
        ("https://example.org/file.tgz?sig=abc.git", False),
        ("https://example.org/repo.github.io/index.html", False),
        ("repo.git", False),
        ("src/", False),
    ],
)
def test_is_git_source(source: str, expected: bool) -> None:
    assert is_git_source(source) is expected


def test_git_url_with_query_is_add_git(tmp_path: Path) -> None:
    text = f"FROM {BASE}\nADD https://example.org/repo.git?ref=v1 /src\n"
    planner = Planner(
        parse_dockerfile(text), options=profile("kaniko"), context_dir=tmp_path, cache=MemoryCache(),
        images=images(), now=NOW,
    )

    risks = planner.static_keys()[0].key_risks

    assert "add-git" in risks
    assert "add-remote-unchecksummed" not in risks
