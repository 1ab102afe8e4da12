from __future__ import annotations

import os
from pathlib import Path

import pytest

from cachelab.study import BuildInput, MutationError, StudyError, Workspace, resolve_input
from tests.fixtures.paths import REPO_ROOT
from tests.study.conftest import FIXED_MTIME


def test_resolve_example_directory() -> None:
    example = REPO_ROOT / "datasets" / "examples" / "two-stage"
    found = resolve_input(example)
    assert found.dockerfile == example / "Dockerfile"
    assert found.context == example / "context"
    assert found.name == "two-stage"


def test_resolve_dockerfile_uses_its_directory(tmp_path: Path) -> None:
    dockerfile = tmp_path / "app" / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text("FROM busybox\n")
    found = resolve_input(dockerfile)
    assert found.context == dockerfile.parent.resolve()
    assert found.name == "app"


def test_resolve_named_dockerfile_takes_stem(tmp_path: Path) -> None:
    dockerfile = tmp_path / "web.Dockerfile"
    dockerfile.write_text("FROM busybox\n")
    assert resolve_input(dockerfile).name == "web"


def test_resolve_explicit_context(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\n")
    context = tmp_path / "elsewhere"
    context.mkdir()
    assert resolve_input(dockerfile, context).context == context.resolve()


@pytest.mark.parametrize("layout", ["missing", "no-dockerfile", "no-context"])
def test_resolve_rejects_bad_inputs(tmp_path: Path, layout: str) -> None:
    target = tmp_path / "example"
    if layout != "missing":
        target.mkdir()
    if layout == "no-context":
        (target / "Dockerfile").write_text("FROM busybox\n")
    with pytest.raises(StudyError) as caught:
        resolve_input(target)
    assert str(target) in str(caught.value)
    assert caught.value.hint


def test_workspace_copies_files_modes_and_mtimes(workspace: Workspace, build_input: BuildInput) -> None:
    copied = workspace.context / "src" / "app.txt"
    assert copied.read_text() == "version 1\n"
    assert copied.stat().st_mtime == FIXED_MTIME
    assert (workspace.context / "run.sh").stat().st_mode & 0o777 == 0o644
    assert os.readlink(workspace.context / "link") == "src/app.txt"
    assert workspace.dockerfile.read_text() == build_input.dockerfile.read_text()
    assert workspace.dockerfile.parent == workspace.root
    assert workspace.cache_ref == str(workspace.cache_dir.resolve())
    assert workspace.build_args == {"A": "1"}


def test_workspace_keeps_dockerfile_inside_context(tmp_path: Path) -> None:
    context = tmp_path / "project"
    (context / "docker").mkdir(parents=True)
    (context / "docker" / "Dockerfile").write_text("FROM busybox\n")
    source = resolve_input(context / "docker" / "Dockerfile", context)
    workspace = Workspace.create(source, tmp_path / "work")
    assert workspace.dockerfile == workspace.context / "docker" / "Dockerfile"


def test_workspace_copies_dockerfile_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "app.Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "app.Dockerfile.dockerignore").write_text("*.log\n")
    source = resolve_input(tmp_path / "app.Dockerfile", tmp_path / "ctx")
    workspace = Workspace.create(source, tmp_path / "work")
    assert (workspace.root / "app.Dockerfile.dockerignore").read_text() == "*.log\n"


def test_workspace_leaves_original_untouched(workspace: Workspace, build_input: BuildInput) -> None:
    (workspace.context / "src" / "app.txt").write_text("changed\n")
    assert (build_input.context / "src" / "app.txt").read_text() == "version 1\n"


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside", "src/../../outside", "", "."])
def test_context_path_rejects_escapes(workspace: Workspace, path: str) -> None:
    with pytest.raises(MutationError):
        workspace.context_path(path)


def test_context_path_resolves_dots(workspace: Workspace) -> None:
    assert workspace.context_path("src/../run.sh") == workspace.context / "run.sh"


def test_clear_cache_empties_store(workspace: Workspace) -> None:
    (workspace.cache_dir / "index.json").write_text("{}")
    workspace.clear_cache()
    assert workspace.cache_dir.is_dir()
    assert not any(workspace.cache_dir.iterdir())
