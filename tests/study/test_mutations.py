from __future__ import annotations

import os

import pytest

from cachelab.study import (
    MUTATIONS,
    Chmod,
    ClearCache,
    CreateFile,
    DeleteFile,
    EditFile,
    EditInstruction,
    MutationError,
    RemoveBuildArg,
    RenameFile,
    SetBuildArg,
    SetTarget,
    Touch,
    Workspace,
)
from tests.study.conftest import FIXED_MTIME


def test_edit_replaces_content(workspace: Workspace) -> None:
    EditFile("src/app.txt", content="version 2\n").apply(workspace)
    assert (workspace.context / "src" / "app.txt").read_text() == "version 2\n"


def test_edit_appends(workspace: Workspace) -> None:
    EditFile("src/app.txt", append="more\n").apply(workspace)
    assert (workspace.context / "src" / "app.txt").read_text() == "version 1\nmore\n"


def test_edit_needs_exactly_one_change() -> None:
    with pytest.raises(MutationError):
        EditFile("a")
    with pytest.raises(MutationError):
        EditFile("a", content="x", append="y")


def test_edit_missing_file_names_path(workspace: Workspace) -> None:
    with pytest.raises(MutationError) as caught:
        EditFile("src/missing.txt", append="x").apply(workspace)
    assert "src/missing.txt" in str(caught.value)


def test_edit_directory_needs_file(workspace: Workspace) -> None:
    with pytest.raises(MutationError) as caught:
        EditFile("src", append="x").apply(workspace)
    message = str(caught.value)
    assert f"edit: src is a directory in the build context {workspace.user_context}" in message
    assert "edit needs a file" in message
    assert "not found" not in message
    assert "Name one file inside src" in caught.value.hint


def test_create_makes_parents_and_mode(workspace: Workspace) -> None:
    CreateFile("new/dir/file.sh", content="echo\n", mode=0o755).apply(workspace)
    created = workspace.context / "new" / "dir" / "file.sh"
    assert created.read_text() == "echo\n"
    assert created.stat().st_mode & 0o777 == 0o755


def test_create_rejects_existing(workspace: Workspace) -> None:
    with pytest.raises(MutationError):
        CreateFile("run.sh").apply(workspace)


def test_delete_file_link_and_tree(workspace: Workspace) -> None:
    DeleteFile("link").apply(workspace)
    assert not (workspace.context / "link").is_symlink()
    assert (workspace.context / "src" / "app.txt").exists()
    DeleteFile("src").apply(workspace)
    assert not (workspace.context / "src").exists()
    with pytest.raises(MutationError):
        DeleteFile("src").apply(workspace)


def test_rename_moves_and_keeps_content(workspace: Workspace) -> None:
    RenameFile("src/app.txt", "lib/app.txt").apply(workspace)
    assert not (workspace.context / "src" / "app.txt").exists()
    assert (workspace.context / "lib" / "app.txt").read_text() == "version 1\n"


def test_rename_rejects_existing_destination(workspace: Workspace) -> None:
    with pytest.raises(MutationError):
        RenameFile("src/app.txt", "run.sh").apply(workspace)


def test_chmod_sets_bits(workspace: Workspace) -> None:
    Chmod("run.sh", 0o755).apply(workspace)
    assert (workspace.context / "run.sh").stat().st_mode & 0o777 == 0o755


def test_chmod_rejects_out_of_range_mode() -> None:
    with pytest.raises(MutationError):
        Chmod("run.sh", 0o17777)


def test_touch_changes_only_mtime(workspace: Workspace) -> None:
    path = workspace.context / "src" / "app.txt"
    Touch("src/app.txt").apply(workspace)
    assert path.stat().st_mtime >= FIXED_MTIME + 1
    assert path.read_text() == "version 1\n"


def test_touch_explicit_time(workspace: Workspace) -> None:
    Touch("run.sh", mtime=1234.0).apply(workspace)
    assert (workspace.context / "run.sh").stat().st_mtime == 1234.0


def test_build_args_set_and_remove(workspace: Workspace) -> None:
    SetBuildArg("B", "2").apply(workspace)
    assert workspace.build_args == {"A": "1", "B": "2"}
    RemoveBuildArg("A").apply(workspace)
    assert workspace.build_args == {"B": "2"}
    with pytest.raises(MutationError) as caught:
        RemoveBuildArg("A").apply(workspace)
    assert "'A'" in str(caught.value)


def test_set_target_and_reset(workspace: Workspace) -> None:
    SetTarget("builder").apply(workspace)
    assert workspace.targets == ("builder",)
    SetTarget().apply(workspace)
    assert workspace.targets == ()


def test_edit_instruction_replaces_one_line(workspace: Workspace) -> None:
    EditInstruction(3, "RUN cat /src/app.txt && true").apply(workspace)
    lines = workspace.dockerfile.read_text().splitlines()
    assert lines == ["FROM busybox", "COPY src /src", "RUN cat /src/app.txt && true"]
    assert workspace.dockerfile.read_text().endswith("\n")


@pytest.mark.parametrize("line", [0, 4])
def test_edit_instruction_rejects_bad_line(workspace: Workspace, line: int) -> None:
    with pytest.raises(MutationError) as caught:
        EditInstruction(line, "RUN true").apply(workspace)
    assert f"line {line}" in str(caught.value)


def test_clear_cache_mutation(workspace: Workspace) -> None:
    (workspace.cache_dir / "blobs").mkdir()
    ClearCache().apply(workspace)
    assert not any(workspace.cache_dir.iterdir())


@pytest.mark.parametrize(
    ("op", "cls"),
    [
        ("edit", EditFile),
        ("create", CreateFile),
        ("delete", DeleteFile),
        ("rename", RenameFile),
        ("chmod", Chmod),
        ("touch", Touch),
        ("set-arg", SetBuildArg),
        ("remove-arg", RemoveBuildArg),
        ("target", SetTarget),
        ("edit-instruction", EditInstruction),
        ("clear-cache", ClearCache),
    ],
)
def test_mutation_registered_by_op(op: str, cls: type) -> None:
    assert MUTATIONS[op] is cls
    assert cls.op == op  # type: ignore[attr-defined]


def test_mutation_describes_itself() -> None:
    assert Chmod("run.sh", 0o755).describe() == "chmod 0755 run.sh"
    assert SetBuildArg("K", "V").describe() == "--build-arg K=V"


def test_mutation_cannot_escape_context(workspace: Workspace) -> None:
    outside = workspace.root / "outside.txt"
    outside.write_text("x")
    with pytest.raises(MutationError):
        DeleteFile("../outside.txt").apply(workspace)
    assert os.path.exists(outside)


def test_edit_through_outside_link_rejected(workspace: Workspace) -> None:
    outside = workspace.root / "host-file.txt"
    outside.write_text("host\n")
    os.symlink(outside, workspace.context / "escape")
    with pytest.raises(MutationError) as caught:
        EditFile("escape", append="x").apply(workspace)
    assert "leaves the build context" in str(caught.value)
    with pytest.raises(MutationError):
        Chmod("escape", 0o777).apply(workspace)
    assert outside.read_text() == "host\n"


def test_create_under_outside_directory_link_rejected(workspace: Workspace) -> None:
    outside = workspace.root / "host-dir"
    outside.mkdir()
    os.symlink(outside, workspace.context / "linked-dir")
    with pytest.raises(MutationError):
        CreateFile("linked-dir/new.txt").apply(workspace)
    assert not (outside / "new.txt").exists()


def test_edit_through_inside_link_allowed(workspace: Workspace) -> None:
    EditFile("link", append="via link\n").apply(workspace)
    assert (workspace.context / "src" / "app.txt").read_text() == "version 1\nvia link\n"


def test_delete_outside_link_removes_only_link(workspace: Workspace) -> None:
    outside = workspace.root / "host-file.txt"
    outside.write_text("host\n")
    os.symlink(outside, workspace.context / "escape")
    DeleteFile("escape").apply(workspace)
    assert not (workspace.context / "escape").is_symlink()
    assert outside.read_text() == "host\n"
