"""The Dockerfile layer's warnings: logged once per process, or collected per scope without logging."""

from __future__ import annotations

import logging
import pickle

import pytest

from cachelab.dockerfile import parse_dockerfile, plan_stages
from cachelab.dockerfile.layer_warnings import FROM_LATER_STAGE, IMAGE_NOT_STAGE, UNSET_PLATFORM_ARG, collect_warnings

TEXT = "FROM busybox AS base\nRUN true\nFROM busybox${TARGETARCH}\nCOPY --from=helper /t /t\n"
UNSET_MESSAGE = (
    "{path}:3: FROM busybox${{TARGETARCH}} uses TARGETARCH, which kaniko leaves unset in FROM lines "
    "(BuildKit sets it); pass --build-arg TARGETARCH=VALUE to set it"
)
NOT_STAGE_MESSAGE = "{path}:4: no stage is named 'helper', so --from=helper is the image docker.io/library/helper"


def test_warnings_logged_once_outside_scope(caplog: pytest.LogCaptureFixture) -> None:
    dockerfile = parse_dockerfile(TEXT, path="outside.Dockerfile")

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile"):
        plan_stages(dockerfile)
        plan_stages(dockerfile)

    assert caplog.messages == [
        UNSET_MESSAGE.format(path="outside.Dockerfile"),
        NOT_STAGE_MESSAGE.format(path="outside.Dockerfile"),
    ]


def test_scope_collects_without_logging(caplog: pytest.LogCaptureFixture) -> None:
    dockerfile = parse_dockerfile(TEXT, path="scoped.Dockerfile")

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile"), collect_warnings() as collected:
        plan_stages(dockerfile)
        plan_stages(dockerfile)

    assert caplog.messages == []
    assert [warning.kind for warning in collected.found] == [UNSET_PLATFORM_ARG, IMAGE_NOT_STAGE]
    assert [warning.message() for warning in collected.found] == [
        UNSET_MESSAGE.format(path="scoped.Dockerfile"),
        NOT_STAGE_MESSAGE.format(path="scoped.Dockerfile"),
    ]


def test_scope_warnings_repeat_per_scope() -> None:
    dockerfile = parse_dockerfile(TEXT, path="twice.Dockerfile")

    with collect_warnings() as first:
        plan_stages(dockerfile)
    with collect_warnings() as second:
        plan_stages(dockerfile)

    assert len(first.found) == 2
    assert second.found == first.found


def test_collected_warning_logs_like_layer(caplog: pytest.LogCaptureFixture) -> None:
    with collect_warnings() as collected:
        plan_stages(parse_dockerfile(TEXT, path="sent.Dockerfile"))
    # A study sends collected warnings from its worker processes.
    received = pickle.loads(pickle.dumps(collected.found))

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile"):
        for warning in received:
            warning.log()

    assert [record.name for record in caplog.records] == ["cachelab.dockerfile.args", "cachelab.dockerfile.graph"]
    assert caplog.messages == [
        UNSET_MESSAGE.format(path="sent.Dockerfile"),
        NOT_STAGE_MESSAGE.format(path="sent.Dockerfile"),
    ]


def test_scope_collects_later_stage_warning(caplog: pytest.LogCaptureFixture) -> None:
    dockerfile = parse_dockerfile("FROM b AS a\nRUN true\nFROM a AS b\nRUN true\n", path="later.Dockerfile")

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile"), collect_warnings() as collected:
        plan_stages(dockerfile)

    assert caplog.messages == []
    assert [warning.kind for warning in collected.found] == [FROM_LATER_STAGE]
    assert collected.found[0].message().startswith("later.Dockerfile:1: no stage before this FROM is named 'b'")
