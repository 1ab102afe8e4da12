"""The files a stage saves for a later `COPY --from`, resolved with the copying stage's ENV and ARG."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.dockerfile.errors import ExpansionError
from cachelab.dockerfile.graph import plan_stages
from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.flags import KanikoOptions, profile
from cachelab.plan.planner import Planner
from cachelab.plan.selection import select_stages
from tests.plan.casefiles import RecordedImageSource

BASE = "example.org/busybox:1"
APP = "example.org/app:1"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

SOURCE_STAGE = f"FROM {BASE} AS a\nRUN mkdir /dd && echo hi > /dd/x.txt\n"


def images() -> RecordedImageSource:
    return RecordedImageSource({
        BASE: {"seed": None, "env": [PATH_ENV]},
        APP: {"seed": None, "env": [PATH_ENV, "D=app"]},
    })


def planned_save_files(
    text: str, context: Path, *, options: KanikoOptions | None = None, build_args: dict[str, str] | None = None,
) -> dict[int, tuple[str, ...]]:
    """Return the SAVE FILES paths of every stage that saves files, by stage index."""
    planner = Planner(
        parse_dockerfile(text), options=options or profile("kaniko-copy"), context_dir=context, cache=None,
        images=images(), build_args=build_args,
    )
    return {stage.index: stage.save_files for stage in planner.stages if stage.save_files}


@pytest.mark.parametrize("declaration", ["ENV D=dd", "ARG D=dd", "ENV D dd"])
def test_source_expanded_with_stage_variable(context: Path, declaration: str) -> None:
    text = SOURCE_STAGE + f"FROM {BASE}\n{declaration}\nCOPY --from=a /$D/x.txt /x/\nRUN cat /x/x.txt\n"

    assert planned_save_files(text, context) == {0: ("/dd/x.txt",)}


def test_plan_text_names_resolved_path(context: Path) -> None:
    text = SOURCE_STAGE + f"FROM {BASE}\nENV D=dd\nCOPY --from=a /$D/x.txt /x/\n"
    planner = Planner(
        parse_dockerfile(text), options=profile("kaniko-lookahead"), context_dir=context, cache=None,
        images=images(),
    )

    assert "SAVE FILES [/dd/x.txt] /kaniko/deps/0" in planner.render_plan().splitlines()


def test_build_arg_overrides_arg_default(context: Path) -> None:
    text = SOURCE_STAGE + f"FROM {BASE}\nARG D=dd\nCOPY --from=a /$D/x.txt /x/\n"

    assert planned_save_files(text, context, build_args={"D": "ee"}) == {0: ("/ee/x.txt",)}


def test_meta_arg_redeclared_in_stage(context: Path) -> None:
    text = "ARG D=meta\n" + SOURCE_STAGE + f"FROM {BASE}\nARG D\nCOPY --from=a /$D/x.txt /x/\n"

    assert planned_save_files(text, context) == {0: ("/meta/x.txt",)}


def test_source_uses_only_variables_set_before_it(context: Path) -> None:
    text = SOURCE_STAGE + f"FROM {BASE}\nCOPY --from=a /$D/x.txt /x/\nENV D=dd\nCOPY --from=a /$D/y.txt /y/\n"

    # kaniko cleans the resolved path, so `//x.txt` becomes `/x.txt`.
    assert planned_save_files(text, context) == {0: ("/dd/y.txt", "/x.txt")}


def test_remote_base_env_used(context: Path) -> None:
    text = SOURCE_STAGE + f"FROM {APP}\nCOPY --from=a /$D/x.txt /x/\n"

    assert planned_save_files(text, context) == {0: ("/app/x.txt",)}


def test_local_base_passes_env_not_args(context: Path) -> None:
    # Two FROM children keep `base` from being squashed into one of them.
    text = (
        SOURCE_STAGE
        + f"FROM {BASE} AS base\nENV E=env\nARG A=arg\n"
        + "FROM base AS other\nRUN true\n"
        + "FROM base\nCOPY --from=a /$E/$A/x.txt /x/\nCOPY --from=other /other /other\n"
    )

    # kaniko starts every stage's build arguments afresh here, so the ARG of `base` is empty.
    assert planned_save_files(text, context) == {0: ("/env/x.txt",), 2: ("/other",)}


@pytest.mark.parametrize(("arg_precedence", "expected"), [(True, "/arg/x.txt"), (False, "/env/x.txt")])
def test_arg_env_precedence_flag(context: Path, arg_precedence: bool, expected: str) -> None:
    text = SOURCE_STAGE + f"FROM {BASE}\nENV D=env\nARG D=arg\nCOPY --from=a /$D/x.txt /x/\n"
    options = profile("kaniko-copy").with_changes(buildkit_arg_env_precedence=arg_precedence)

    assert planned_save_files(text, context, options=options) == {0: (expected,)}


def test_source_without_variable_reads_no_base(context: Path) -> None:
    dockerfile = parse_dockerfile(SOURCE_STAGE + f"FROM {APP}\nENV D=dd\nCOPY --from=a /dd/./x.txt /x/\n")
    graph = plan_stages(dockerfile)

    def no_base(reference: str) -> list[str]:
        raise AssertionError(f"the config of {reference} was read")

    stages = select_stages(dockerfile, graph, build_args={}, base_env=no_base)

    assert stages.stages[0].save_files == ("/dd/x.txt",)
    assert stages.stages[1].commands[1].source_paths == ("/dd/x.txt",)


def test_unexpandable_source_names_line(context: Path) -> None:
    text = SOURCE_STAGE + f"FROM {BASE}\nCOPY --from=a /${{D:?D must be set}}/x.txt /x/\n"

    with pytest.raises(ExpansionError) as caught:
        planned_save_files(text, context)

    assert caught.value.line == 4
