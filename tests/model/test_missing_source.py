"""The key engine's `placeholder` policy for absent files, which the study and model rely on."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from cachelab.dockerfile import parse_dockerfile
from cachelab.keys.errors import SourceNotFoundError
from cachelab.keys.flags import profile
from cachelab.keys.parts import placeholder_part
from cachelab.model.standin import StandInImageSource
from cachelab.plan.planner import Planner

TEXT = """\
FROM alpine:3.20
COPY app.py *.txt /app/
RUN --mount=type=bind,source=requirements.txt,target=/r pip install -r /r
"""


def plan_keys(context, *, missing_source, text=TEXT):
    dockerfile = parse_dockerfile(text)
    planner = Planner(
        dockerfile, options=profile("kaniko-copy"), context_dir=context, cache=None,
        images=StandInImageSource(), now=datetime(2026, 12, 1, tzinfo=UTC),
        dockerfile_path=os.path.join(context, "Dockerfile"), missing_source=missing_source,
    )
    return planner.static_keys()[0].instructions


def test_missing_sources_raise_by_default(tmp_path):
    with pytest.raises(SourceNotFoundError, match="app.py"):
        plan_keys(str(tmp_path), missing_source="raise", text="FROM alpine:3.20\nCOPY app.py /app/\n")


def test_placeholder_parts_for_missing_sources(tmp_path):
    copy, run = plan_keys(str(tmp_path), missing_source="placeholder")

    assert copy.parts[1:] == (placeholder_part("app.py"), placeholder_part("*.txt"))
    assert run.parts[-1] == placeholder_part("requirements.txt")
    assert copy.key_source == "content"
    assert copy.files_hashed == 0


def test_placeholder_keys_stable_across_contexts(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = plan_keys(str(tmp_path / "one"), missing_source="placeholder")
    second = plan_keys(str(tmp_path / "two"), missing_source="placeholder")

    assert [instruction.key for instruction in first] == [instruction.key for instruction in second]


def test_existing_files_still_hashed(tmp_path):
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "notes.txt").write_text("notes\n")

    copy, _ = plan_keys(str(tmp_path), missing_source="placeholder")

    assert placeholder_part("app.py") not in copy.parts
    assert placeholder_part("*.txt") not in copy.parts
    assert copy.files_hashed == 2
