"""Scenario checks before the first build, and errors that name the user's files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cachelab.cli import main
from cachelab.study import BuildInput, Workspace, resolve_input
from cachelab.study.compare import compare
from cachelab.study.errors import MutationError
from cachelab.study.matrix import study
from cachelab.study.mutations import (
    CreateFile,
    DeleteFile,
    EditFile,
    EditInstruction,
    SetTarget,
    apply_mutation,
)
from cachelab.study.preflight import check_scenario
from cachelab.study.rebuild import MakeRunNondeterministic, MoveBaseTag
from cachelab.study.scenario import Scenario, Step

COLD = Step(label="cold")


class RecordingBuilder:
    """A builder that only records its requests, so a test can tell whether any build started."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def __call__(self, request: Any, **options: Any) -> None:
        self.requests.append(request)


def _scenario(*steps: Step) -> Scenario:
    return Scenario("checked", (COLD, *steps))


def _check(build_input: BuildInput, *mutations: Any, targets: tuple[str, ...] = ()) -> None:
    check_scenario(_scenario(*(Step((mutation,)) for mutation in mutations)), build_input, targets=targets)


def test_missing_edit_path_names_user_context(build_input: BuildInput) -> None:
    with pytest.raises(MutationError) as caught:
        _check(build_input, EditFile("src/tpyo.txt", append="x\n"))
    message = str(caught.value)
    assert "src/tpyo.txt" in message
    assert str(build_input.context) in message
    assert "step 1" in message
    assert "cachelab-check-" not in message


def test_valid_steps_pass_in_order(build_input: BuildInput) -> None:
    _check(
        build_input,
        CreateFile("new.txt", content="a\n"),
        EditFile("new.txt", append="b\n"),
        DeleteFile("src"),
        CreateFile("src/app.txt"),
    )


def test_later_step_sees_earlier_changes(build_input: BuildInput) -> None:
    with pytest.raises(MutationError) as caught:
        _check(build_input, DeleteFile("run.sh"), EditFile("run.sh", append="x\n"))
    assert "step 2" in str(caught.value)


def test_create_under_file_names_user_context(build_input: BuildInput) -> None:
    with pytest.raises(MutationError) as caught:
        _check(build_input, CreateFile("run.sh/inner.txt"))
    message = str(caught.value)
    assert "run.sh" in message
    assert "not a directory" in message
    assert str(build_input.context) in message


def test_bad_dockerfile_line_names_user_dockerfile(build_input: BuildInput) -> None:
    with pytest.raises(MutationError) as caught:
        _check(build_input, EditInstruction(40, "RUN true"))
    assert str(build_input.dockerfile) in str(caught.value)

    with pytest.raises(MutationError) as caught:
        _check(build_input, MakeRunNondeterministic(line=2))
    assert f"{build_input.dockerfile} line 2 is not a single-line RUN" in str(caught.value)


def test_edited_dockerfile_line_checked_later(build_input: BuildInput) -> None:
    # Line 2 becomes a RUN at step 1, so making it nondeterministic at step 2 is valid.
    _check(build_input, EditInstruction(2, "RUN echo copied"), MakeRunNondeterministic(line=2))


def test_escape_names_user_context(build_input: BuildInput) -> None:
    with pytest.raises(MutationError) as caught:
        _check(build_input, EditFile("../Dockerfile", append="x"))
    assert f"leaves the build context {build_input.context}" in str(caught.value)


def test_unknown_target_rejected(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox AS base\nFROM base AS final\n")
    source = resolve_input(tmp_path / "Dockerfile")

    _check(source, SetTarget("BASE"))
    with pytest.raises(MutationError) as caught:
        _check(source, SetTarget("bsae"))
    assert "'bsae'" in str(caught.value)
    assert str(source.dockerfile) in str(caught.value)
    with pytest.raises(MutationError):
        check_scenario(_scenario(), source, targets=("nosuch",))


def test_move_base_tag_checked_without_pushing(build_input: BuildInput) -> None:
    # Applying it would push to this port, where nothing listens.
    _check(build_input, MoveBaseTag("127.0.0.1:9/busybox", where="registry"))
    with pytest.raises(MutationError) as caught:
        _check(build_input, MoveBaseTag("busybox@sha256:" + "0" * 64))
    assert "movable tag" in str(caught.value)


def test_check_leaves_user_files_alone(build_input: BuildInput) -> None:
    app = build_input.context / "src" / "app.txt"
    before = (app.read_bytes(), app.stat().st_mtime, build_input.dockerfile.read_bytes())
    _check(build_input, EditFile("src/app.txt", content="changed\n"), EditInstruction(1, "FROM scratch"))
    assert (app.read_bytes(), app.stat().st_mtime, build_input.dockerfile.read_bytes()) == before


def test_outline_copy_has_empty_files(build_input: BuildInput, tmp_path: Path) -> None:
    outline = Workspace.create(build_input, tmp_path / "outline", outline=True)
    app = outline.context / "src" / "app.txt"
    assert app.read_bytes() == b""
    assert app.stat().st_mtime == (build_input.context / "src" / "app.txt").stat().st_mtime
    assert os.readlink(outline.context / "link") == "src/app.txt"
    assert (outline.context / "run.sh").stat().st_mode & 0o777 == 0o644
    assert outline.dockerfile.read_text() == build_input.dockerfile.read_text()


def test_outline_keeps_dockerfile_inside_context(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN true\n")
    source = resolve_input(tmp_path / "Dockerfile")
    outline = Workspace.create(source, tmp_path.parent / f"{tmp_path.name}-outline", outline=True)
    assert outline.dockerfile.read_text() == "FROM busybox\nRUN true\n"


def test_apply_names_user_path_on_os_error(workspace: Workspace, build_input: BuildInput) -> None:
    class Unreadable:
        op = "unreadable"

        def apply(self, workspace: Workspace) -> None:
            raise PermissionError(13, "Permission denied", str(workspace.context / "src" / "app.txt"))

        def describe(self) -> str:
            return "read src/app.txt"

    with pytest.raises(MutationError) as caught:
        apply_mutation(Unreadable(), workspace)
    message = str(caught.value)
    assert str(build_input.context / "src" / "app.txt") in message
    assert str(workspace.root) not in message


def test_compare_rejects_before_first_build(build_input: BuildInput, tmp_path: Path) -> None:
    builder = RecordingBuilder()
    with pytest.raises(MutationError) as caught:
        compare(
            build_input.dockerfile, build_input.context, scenario="edit:src/tpyo.txt",
            out_dir=tmp_path / "out", builder=builder,
        )
    assert builder.requests == []
    assert str(build_input.context) in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_study_rejects_before_first_build(build_input: BuildInput, tmp_path: Path) -> None:
    builder = RecordingBuilder()
    with pytest.raises(MutationError):
        study(
            [build_input.dockerfile.parent], ["warm-unchanged", "edit:src/tpyo.txt"], ("per-stage",),
            out_dir=tmp_path / "study", progress=False, builder=builder,
        )
    assert builder.requests == []


def test_cli_names_user_context(build_input: BuildInput, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([
        "compare", str(build_input.dockerfile.parent), "--scenario", "edit:src/tpyo.txt",
        "--image-store", str(tmp_path / "images"), "--out", str(tmp_path / "out"), "--quiet",
    ])
    error = capsys.readouterr().err
    assert code == 1
    assert f"not found in the build context {build_input.context}" in error
    assert "cachelab-compare-" not in error
    assert not (tmp_path / "images").exists()


def test_cli_edit_directory_rejected(build_input: BuildInput, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = main([
        "compare", str(build_input.dockerfile.parent), "--scenario", "edit:src",
        "--image-store", str(tmp_path / "images"), "--out", str(tmp_path / "out"), "--quiet",
    ])
    error = capsys.readouterr().err
    assert code == 1
    assert f"edit: src is a directory in the build context {build_input.context}, and edit needs a file" in error
    assert "not found" not in error
    assert not (tmp_path / "out").exists()
