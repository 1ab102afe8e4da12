"""kaniko's stage selection: targets, liveness, ONBUILD injection and squash."""

from __future__ import annotations

import logging

import pytest

from cachelab.dockerfile import parse_dockerfile, plan_stages, squash_stages

CHAIN = """\
FROM busybox AS a
RUN echo a
FROM a AS b
RUN echo b
FROM b AS c
RUN echo c
"""

MULTI = """\
ARG GO=golang:1.22
FROM ${GO} AS build
RUN go build -o /app
FROM alpine AS unused
RUN echo never
FROM build AS test
RUN go test
FROM scratch AS final
COPY --from=build /app /app
COPY --from=nginx:1.27 /etc/nginx /etc/nginx
"""


def _texts(stage):
    return [instruction.text for instruction in stage.instructions]


def test_default_target_is_last_stage():
    graph = plan_stages(parse_dockerfile(MULTI))

    assert graph.targets == (3,)
    assert graph.final == 3
    assert graph.push == 3


def test_liveness_follows_from_and_copy():
    graph = plan_stages(parse_dockerfile(MULTI))

    assert [stage.live for stage in graph.stages] == [True, False, False, True]
    assert [stage.index for stage in graph.built] == [0, 3]


def test_named_target_drops_later_stages():
    graph = plan_stages(parse_dockerfile(MULTI), targets=["TEST"])

    assert graph.final == 2
    assert [stage.live for stage in graph.stages] == [True, False, True, False]


def test_test_target_squashes_build():
    graph = plan_stages(parse_dockerfile(MULTI), targets=["test"])
    (built,) = graph.built

    assert built.index == 2
    assert built.name == "test"
    assert built.absorbed == (0, 2)
    assert built.base_kind == "image"
    assert built.base_image == "golang:1.22"
    assert _texts(built) == ["RUN go build -o /app", "RUN go test"]
    assert graph.stages[0].squashed_into == 2


def test_copy_source_never_squashed():
    text = "FROM busybox AS a\nRUN echo a\nFROM a AS b\nCOPY --from=a /x /y\n"
    graph = plan_stages(parse_dockerfile(text))

    assert [stage.index for stage in graph.built] == [0, 1]
    assert graph.stages[0].squashed_into is None


def test_second_from_dependent_prevents_squash():
    text = CHAIN + "FROM a AS nosquash\n"
    graph = plan_stages(parse_dockerfile(text), targets=["c", "nosquash"])

    assert [stage.absorbed for stage in graph.built] == [(0,), (1, 2), (3,)]


def test_chain_squashes_transitively():
    graph = plan_stages(parse_dockerfile(CHAIN))
    (built,) = graph.built

    assert built.absorbed == (0, 1, 2)
    assert built.base_image == "busybox"
    assert _texts(built) == ["RUN echo a", "RUN echo b", "RUN echo c"]
    assert [stage.squashed_into for stage in graph.stages] == [2, 2, None]


def test_push_stage_not_squashed_into_child():
    graph = plan_stages(parse_dockerfile(CHAIN), targets=["b", "c"])

    assert graph.push == 1
    assert graph.final == 2
    assert [stage.absorbed for stage in graph.built] == [(0, 1), (2,)]
    assert graph.built[0].push is True
    assert graph.built[1].final is True


def test_other_target_squashed_and_kept():
    graph = plan_stages(parse_dockerfile(CHAIN), targets=["c", "b"])

    assert graph.push == 2
    assert [stage.absorbed for stage in graph.built] == [(0, 1), (0, 1, 2)]
    assert graph.stages[1].squashed_into == 2


def test_local_onbuild_injected_and_declaration_dropped():
    text = (
        "FROM busybox AS base\n"
        "ONBUILD RUN touch /onbuild\n"
        "RUN echo base\n"
        "FROM base AS child\n"
        "RUN echo child\n"
    )
    graph = plan_stages(parse_dockerfile(text))
    (built,) = graph.built

    assert built.absorbed == (0, 1)
    assert _texts(built) == ["RUN echo base", "RUN touch /onbuild", "RUN echo child"]
    assert [trigger.text for trigger in built.triggers] == ["RUN touch /onbuild"]


def test_local_onbuild_kept_in_unsquashed_base():
    text = (
        "FROM busybox AS base\n"
        "ONBUILD RUN touch /onbuild\n"
        "FROM base AS child\n"
        "RUN echo child\n"
        "FROM base AS other\n"
    )
    graph = plan_stages(parse_dockerfile(text), targets=["child", "other"])
    base, child, other = graph.built

    assert _texts(base) == ["ONBUILD RUN touch /onbuild"]
    assert _texts(child) == ["RUN touch /onbuild", "RUN echo child"]
    assert _texts(other) == ["RUN touch /onbuild"]


def test_remote_onbuild_from_callback():
    requested: list[str] = []

    def image_onbuild(reference: str) -> list[str]:
        requested.append(reference)
        return ["RUN echo from-image", "COPY . /src"] if reference == "node:onbuild" else []

    text = "FROM node:onbuild AS app\nRUN npm test\n"
    graph = plan_stages(parse_dockerfile(text), image_onbuild=image_onbuild)
    (built,) = graph.built

    assert requested == ["node:onbuild"]
    assert _texts(built) == ["RUN echo from-image", "COPY . /src", "RUN npm test"]
    assert built.triggers[0].start_line == 1


def test_scratch_base():
    graph = plan_stages(parse_dockerfile("FROM SCRATCH\nCOPY a /a\n"))

    assert graph.stages[0].base_kind == "scratch"
    assert graph.stages[0].base_image is None


def test_named_and_numeric_from():
    text = "FROM a AS one\nFROM b AS two\nFROM c\nCOPY --from=ONE /x /x\nCOPY --from=1 /y /y\n"
    graph = plan_stages(parse_dockerfile(text))
    named, numeric = graph.stages[2].sources

    assert named.stage == 0
    assert named.written == "ONE"
    assert named.line == 4
    assert numeric.stage == 1
    assert graph.stages[2].depends_on == (0, 1)


def test_external_image_from():
    graph = plan_stages(parse_dockerfile(MULTI))
    build_source, image_source = graph.stages[3].sources

    assert build_source.stage == 0
    assert image_source.stage is None
    assert image_source.image == "nginx:1.27"


def test_mount_from_is_no_dependency():
    # kaniko's stage selection counts FROM and COPY --from only, and it skips
    # bind mounts from other stages when running.
    text = "FROM a AS tools\nFROM b\nRUN --mount=from=tools,target=/t make\n"
    graph = plan_stages(parse_dockerfile(text))
    (source,) = graph.stages[1].sources

    assert source.kind == "mount"
    assert source.stage == 0
    assert graph.stages[0].live is False


def test_mount_from_does_not_block_squash():
    text = "FROM a AS base\nRUN make\nFROM base\nRUN --mount=from=base,target=/t make\n"
    graph = plan_stages(parse_dockerfile(text))

    assert graph.stages[0].squashed_into == 1


def test_build_arg_overrides_meta_arg():
    graph = plan_stages(parse_dockerfile(MULTI), build_args={"GO": "golang:1.23"})

    assert graph.stages[0].base_image == "golang:1.23"
    assert graph.args["GO"] == "golang:1.23"


def test_undeclared_build_arg_visible_to_from():
    text = "ARG TAG=1\nFROM img:${TAG}${EXTRA}\n"
    graph = plan_stages(parse_dockerfile(text), build_args={"EXTRA": "-x"})

    assert graph.stages[0].base_image == "img:1-x"


def test_empty_build_arg_keeps_default():
    text = "ARG TAG=1\nFROM img:${TAG}\n"
    graph = plan_stages(parse_dockerfile(text), build_args={"TAG": ""})

    assert graph.stages[0].base_image == "img:1"


def test_build_arg_used_in_meta_default():
    text = "ARG V=3\nARG IMG=repo:${V}-slim\nFROM $IMG\n"
    graph = plan_stages(parse_dockerfile(text), build_args={"V": "4"})

    assert graph.stages[0].base_image == "repo:4-slim"


def test_meta_default_enclosing_quotes_stripped():
    text = "ARG B=busybox\nARG A='$B'\nARG C=\"x y\"\nFROM $A\n"
    graph = plan_stages(parse_dockerfile(text))

    assert graph.args["A"] == "busybox"
    assert graph.args["C"] == "x y"


def test_meta_arg_default_uses_earlier_args():
    text = "ARG V=3\nARG IMG=repo:${V}-slim\nFROM $IMG\n"
    graph = plan_stages(parse_dockerfile(text))

    assert graph.stages[0].base_image == "repo:3-slim"


def test_platform_args_not_in_from():
    # kaniko 6bcc934 expands FROM with meta ARGs and build args only.
    text = "FROM --platform=$BUILDPLATFORM img:${TARGETARCH}${TARGETVARIANT}\n"
    graph = plan_stages(parse_dockerfile(text), platform="linux/arm/v7")

    assert graph.stages[0].base_image == "img:"
    assert "TARGETPLATFORM" not in graph.args


def test_from_variable_naming_stage():
    text = "ARG SRC=builder\nFROM alpine AS builder\nFROM ${SRC}\n"
    graph = plan_stages(parse_dockerfile(text))

    assert graph.stages[1].base_kind == "stage"
    assert graph.stages[1].base_stage == 0


def test_trigger_copy_source_kept_live():
    text = (
        "FROM busybox AS assets\n"
        "FROM busybox AS base\n"
        "ONBUILD COPY --from=assets /a /a\n"
        "FROM base AS app\n"
    )
    graph = plan_stages(parse_dockerfile(text))

    assert [stage.live for stage in graph.stages] == [True, True, True]
    assert [stage.absorbed for stage in graph.built] == [(0,), (1, 2)]
    assert graph.built[1].sources[0].stage == 0


def test_remote_onbuild_only_for_live_stages():
    requested: list[str] = []

    def image_onbuild(reference: str) -> list[str]:
        requested.append(reference)
        return []

    plan_stages(parse_dockerfile(MULTI), image_onbuild=image_onbuild)

    assert requested == ["golang:1.22"]


def test_resquash_after_elimination():
    text = CHAIN + "FROM a AS nosquash\n"
    graph = plan_stages(parse_dockerfile(text), targets=["c", "nosquash"])
    without_nosquash = [stage for stage in graph.built if stage.index != 3]

    merged = squash_stages(without_nosquash, keep=(graph.push,))

    assert [stage.absorbed for stage in merged] == [(0, 1, 2)]


def test_resquash_skips_onbuild_base():
    text = "FROM busybox AS base\nONBUILD RUN touch /x\nFROM base AS child\nFROM base AS other\n"
    graph = plan_stages(parse_dockerfile(text), targets=["child", "other"])
    without_other = [stage for stage in graph.built if stage.name != "other"]

    kept = squash_stages(without_other, keep=(1,), skip_bases_with_onbuild=True)
    merged = squash_stages(without_other, keep=(1,))

    assert [stage.absorbed for stage in kept] == [(0,), (1,)]
    assert [stage.absorbed for stage in merged] == [(0, 1)]
    assert _texts(merged[0]) == ["RUN touch /x"]


def test_platform_parse_rejects_bad_shape():
    from cachelab.dockerfile import Platform

    assert str(Platform.parse("Linux/ARM64")) == "linux/arm64"
    for text in ("linux", "linux/", "a/b/c/d"):
        try:
            Platform.parse(text)
        except ValueError as exc:
            assert "os/architecture" in str(exc)
        else:
            raise AssertionError(f"{text!r} was accepted")


def test_platform_args_default_to_host():
    from cachelab.dockerfile import host_platform, platform_args

    values = platform_args()

    assert values["BUILDPLATFORM"] == str(host_platform())
    assert values["TARGETPLATFORM"] == values["BUILDPLATFORM"]
    assert values["TARGETOS"] == "linux"


def test_unknown_from_name_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    text = "FROM busybox AS builder\nFROM busybox\nCOPY --from=biulder /bin/sh /x\n"
    dockerfile = parse_dockerfile(text, path="unknown-from.Dockerfile")

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile.graph"):
        graph = plan_stages(dockerfile)
        plan_stages(dockerfile)

    assert graph.stages[1].sources[0].image == "biulder"
    expected = (
        "unknown-from.Dockerfile:3: no stage is named 'biulder', so --from=biulder is the image "
        "docker.io/library/biulder"
    )
    assert caplog.messages == [expected]


def test_image_reference_from_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    text = "FROM busybox\nCOPY --from=example.org/tools:1 /bin/sh /x\nCOPY --from=alpine:3 /bin/sh /y\n"

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile.graph"):
        plan_stages(parse_dockerfile(text, path="images.Dockerfile"))

    assert caplog.messages == []


def test_from_later_stage_is_image_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    text = "FROM b AS a\nRUN true\nFROM a AS b\nRUN true\n"
    dockerfile = parse_dockerfile(text, path="later-stage.Dockerfile")

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile.graph"):
        graph = plan_stages(dockerfile)
        plan_stages(dockerfile)

    assert (graph.stages[0].base_kind, graph.stages[0].base_image) == ("image", "b")
    assert (graph.stages[1].base_kind, graph.stages[1].base_stage) == ("stage", 0)
    expected = (
        "later-stage.Dockerfile:1: no stage before this FROM is named 'b', so FROM b is the image "
        "docker.io/library/b (a FROM can use only stages defined above it, and stage 'b' is defined at line 3)"
    )
    assert caplog.messages == [expected]


def test_from_own_stage_name_warns(caplog: pytest.LogCaptureFixture) -> None:
    dockerfile = parse_dockerfile("ARG BASE=Tools\nFROM ${BASE} AS tools\n", path="own-name.Dockerfile")

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile.graph"):
        graph = plan_stages(dockerfile)

    assert graph.stages[0].base_kind == "image"
    assert len(caplog.messages) == 1
    assert "own-name.Dockerfile:2: no stage before this FROM is named 'tools'" in caplog.messages[0]
    assert "FROM Tools is the image docker.io/library/tools" in caplog.messages[0]


def test_from_earlier_stage_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    text = "FROM busybox AS base\nFROM base AS app\n"

    with caplog.at_level(logging.WARNING, logger="cachelab.dockerfile.graph"):
        plan_stages(parse_dockerfile(text, path="earlier-stage.Dockerfile"))

    assert caplog.messages == []
