"""Which variables FROM lines see: kaniko's rule by default, BuildKit's on request.

kaniko at commit 6bcc934 (osscontainertools fork) expands FROM lines in
`resolveStagesArgs` and meta ARG defaults in `expandNestedArgs`, both in
pkg/dockerfile/dockerfile.go, with the meta ARGs and build args only. The
platform ARGs (`InitPredefinedArgs`, pkg/dockerfile/buildargs.go) are set
later, for the instructions inside stages. BuildKit gives FROM lines the
platform ARGs too.
"""

from __future__ import annotations

import logging

import pytest

from cachelab.dockerfile import parse_dockerfile, plan_stages
from cachelab.dockerfile.args import expand_base, meta_arg_values, platform_args


def _values(text: str, semantics: str, build_args: dict[str, str] | None = None) -> dict[str, str]:
    dockerfile = parse_dockerfile(text)
    return meta_arg_values(
        dockerfile.meta_args, build_args or {}, predefined=platform_args("linux/arm/v7", "linux/amd64"),
        path="Dockerfile", semantics=semantics,  # type: ignore[arg-type]
    )


def test_kaniko_from_lacks_platform_args() -> None:
    graph = plan_stages(parse_dockerfile("FROM img:${TARGETARCH}\n"), platform="linux/arm64")

    assert graph.stages[0].base_image == "img:"
    for name in ("TARGETPLATFORM", "TARGETARCH", "BUILDPLATFORM", "BUILDARCH"):
        assert name not in graph.args


def test_kaniko_meta_default_lacks_platform_args() -> None:
    graph = plan_stages(parse_dockerfile("ARG ARCH=x${TARGETARCH}\nFROM img:$ARCH\n"), platform="linux/arm64")

    assert graph.args["ARCH"] == "x"
    assert graph.stages[0].base_image == "img:x"


def test_build_arg_sets_platform_name() -> None:
    graph = plan_stages(
        parse_dockerfile("FROM img:${TARGETARCH}\n"), platform="linux/arm64", build_args={"TARGETARCH": "s390x"},
    )

    assert graph.stages[0].base_image == "img:s390x"


def test_buildkit_from_sees_platform_args() -> None:
    text = "ARG ARCH=${TARGETARCH}${TARGETVARIANT}\nFROM img:${ARCH}-${BUILDARCH}\n"

    values = _values(text, "buildkit")

    assert values["TARGETPLATFORM"] == "linux/arm/v7"
    assert values["ARCH"] == "armv7"
    assert expand_base("img:${ARCH}-${BUILDARCH}", values, path="Dockerfile", line=2) == "img:armv7-amd64"


def test_kaniko_values_without_platform_args() -> None:
    values = _values("ARG ARCH=${TARGETARCH}\nFROM img\n", "kaniko")

    assert values == {"ARCH": ""}


def test_unset_platform_arg_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    dockerfile = parse_dockerfile("FROM img:${BUILDARCH}\n", path="Dockerfile.warn-once")

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile.args"):
        plan_stages(dockerfile)
        plan_stages(dockerfile)

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("Dockerfile.warn-once:1: FROM img:${BUILDARCH} uses BUILDARCH")
    assert "--build-arg BUILDARCH=VALUE" in messages[0]


def test_set_platform_arg_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    dockerfile = parse_dockerfile("ARG TARGETARCH=amd64\nFROM img:${TARGETARCH}\n", path="Dockerfile.declared")

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile.args"):
        graph = plan_stages(dockerfile)

    assert graph.stages[0].base_image == "img:amd64"
    assert caplog.records == []
