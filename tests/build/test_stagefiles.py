"""Saving cross-stage files, WORKDIR creation and the build work directory."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest

from cachelab.build.copy import execute_copy
from cachelab.build.copy_from import CopyFromLine, copy_from_lines
from cachelab.build.copysources import SourceRoot
from cachelab.build.errors import CopySourceNotFound, InstructionError, InstructionFailed
from cachelab.build.rootfs import BuildWorkspace, unpack_layers
from cachelab.build.snapshot import Snapshotter
from cachelab.build.stagefiles import save_stage_files
from cachelab.build.users import UserIds
from cachelab.build.workdir import make_workdir
from cachelab.dockerfile.graph import plan_stages
from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.plan.selection import select_stages

AS_ROOT = os.geteuid() == 0


@pytest.fixture
def stage_root(tmp_path: Path) -> Path:
    root = tmp_path / "stage"
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "usr" / "bin").mkdir()
    (root / "usr" / "lib" / "libz.so.1.3").write_text("libz")
    os.symlink("libz.so.1.3", root / "usr" / "lib" / "libz.so.1")
    (root / "usr" / "bin" / "tool").write_text("#!/bin/sh\n")
    os.chmod(root / "usr" / "bin" / "tool", 0o4755)
    os.link(root / "usr" / "bin" / "tool", root / "usr" / "bin" / "tool-alias")
    os.symlink("/usr/bin/tool", root / "usr" / "bin" / "tool-link")
    (root / "app").mkdir()
    (root / "app" / "a.jar").write_text("a")
    (root / "app" / "b.jar").write_text("b")
    (root / "app" / "readme").write_text("r")
    os.utime(root / "app" / "a.jar", (1_500_000_000, 1_500_000_000))
    if AS_ROOT:
        os.chown(root / "app" / "a.jar", 1000, 1000)
    return root


def test_save_paths_keep_attributes(stage_root: Path, tmp_path: Path) -> None:
    deps = tmp_path / "deps" / "0"

    save_stage_files(str(stage_root), ["/usr/bin", "/app/*.jar"], str(deps))

    assert sorted(os.listdir(deps / "app")) == ["a.jar", "b.jar"]
    jar = os.lstat(deps / "app" / "a.jar")
    assert jar.st_mtime == 1_500_000_000
    if AS_ROOT:
        assert (jar.st_uid, jar.st_gid) == (1000, 1000)
    tool = os.lstat(deps / "usr" / "bin" / "tool")
    assert stat.S_IMODE(tool.st_mode) == 0o4755
    assert tool.st_ino == os.lstat(deps / "usr" / "bin" / "tool-alias").st_ino
    assert os.readlink(deps / "usr" / "bin" / "tool-link") == "/usr/bin/tool"
    assert not (deps / "usr" / "lib").exists()


def test_save_symlink_brings_target(stage_root: Path, tmp_path: Path) -> None:
    deps = tmp_path / "deps"

    save_stage_files(str(stage_root), ["/usr/lib/libz.so.1"], str(deps))

    assert os.readlink(deps / "usr" / "lib" / "libz.so.1") == "libz.so.1.3"
    assert (deps / "usr" / "lib" / "libz.so.1.3").read_text() == "libz"


def test_save_through_parent_symlink(stage_root: Path, tmp_path: Path) -> None:
    os.symlink("/usr/lib", stage_root / "lib")
    deps = tmp_path / "deps"

    save_stage_files(str(stage_root), ["/lib/libz.so.1.3"], str(deps))

    assert os.readlink(deps / "lib") == "/usr/lib"
    assert (deps / "usr" / "lib" / "libz.so.1.3").read_text() == "libz"
    target = tmp_path / "next"
    target.mkdir()
    instruction = parse_dockerfile("FROM scratch\nCOPY --from=0 /lib/libz.so.1.3 /out/\n").stages[0].instructions[0]
    execute_copy(instruction, stage_root=str(target), source=SourceRoot(str(deps), "stage 0"))
    assert (target / "out" / "libz.so.1.3").read_text() == "libz"


def test_save_missing_path(stage_root: Path, tmp_path: Path) -> None:
    with pytest.raises(CopySourceNotFound, match="/nope"):
        save_stage_files(str(stage_root), ["/nope"], str(tmp_path / "deps"))


def test_save_missing_path_names_reader(stage_root: Path, tmp_path: Path) -> None:
    reader = CopyFromLine(9, "COPY --from=build /nope /app/")

    with pytest.raises(CopySourceNotFound) as caught:
        save_stage_files(
            str(stage_root), ["/usr/bin", "/nope"], str(tmp_path / "deps"),
            description="stage 0 (build)", needed_by={"/nope": reader},
        )

    assert caught.value.line == 9
    assert caught.value.instruction == "COPY --from=build /nope /app/"
    assert str(caught.value) == "line 9: COPY/ADD source '/nope' not found in stage 0 (build)"


def test_save_os_error_names_reader(stage_root: Path, tmp_path: Path) -> None:
    (stage_root / "loop1").symlink_to("/loop2")
    (stage_root / "loop2").symlink_to("/loop1")
    reader = CopyFromLine(4, "COPY --from=0 /loop1/x /y")

    with pytest.raises(InstructionFailed) as caught:
        save_stage_files(str(stage_root), ["/loop1/x"], str(tmp_path / "deps"), needed_by={"/loop1/x": reader})

    message = str(caught.value)
    assert message.startswith("line 4: COPY --from=0 /loop1/x /y: saving /loop1/x from stage root ")
    assert "too many levels of symlinks" in message
    assert isinstance(caught.value.__cause__, OSError)


def test_copy_from_lines_use_resolved_sources() -> None:
    text = (
        "ARG DIR=/opt\nFROM busybox AS build\nFROM busybox\nARG DIR\nENV SUB=a\n"
        "COPY --from=build ${DIR}/$SUB /b /c/\nCOPY --from=build /b /d\n"
    )
    dockerfile = parse_dockerfile(text)
    stages = select_stages(dockerfile, plan_stages(dockerfile), build_args={}, base_env=lambda reference: None)

    lines = copy_from_lines(stages.stages)

    assert lines[(0, "/opt/a")] == CopyFromLine(6, "COPY --from=build ${DIR}/$SUB /b /c/")
    assert lines[(0, "/b")].line == 6
    assert set(lines) == {(0, "/opt/a"), (0, "/b")}
    assert stages.stages[0].save_files == ("/b", "/opt/a")


def test_saved_files_serve_copy_from(stage_root: Path, tmp_path: Path) -> None:
    deps = tmp_path / "deps"
    save_stage_files(str(stage_root), ["/usr/lib/libz.so.1"], str(deps))
    target = tmp_path / "next"
    target.mkdir()
    instruction = parse_dockerfile("FROM scratch\nCOPY --from=0 /usr/lib/libz.so.1 /lib/\n").stages[0].instructions[0]

    execute_copy(instruction, stage_root=str(target), source=SourceRoot(str(deps), "stage 0"))

    # COPY follows the source symlink, so the file arrives with the link's name.
    assert (target / "lib" / "libz.so.1").read_text() == "libz"
    assert not (target / "lib" / "libz.so.1").is_symlink()


def test_workdir_created_with_user(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "srv").mkdir(parents=True)
    owners: dict[str, tuple[int, int]] = {}

    created = make_workdir(str(root), "/srv/app/data", user=UserIds(1000, 1000),
                           record_owner=lambda rel, uid, gid: owners.__setitem__(rel, (uid, gid)))

    assert created == ["/srv/app", "/srv/app/data"]
    assert stat.S_IMODE(os.lstat(root / "srv" / "app").st_mode) == 0o755
    if AS_ROOT:
        assert os.lstat(root / "srv" / "app" / "data").st_uid == 1000
        assert os.lstat(root / "srv").st_uid == 0
    else:
        assert owners == {"srv/app": (1000, 1000), "srv/app/data": (1000, 1000)}
    assert make_workdir(str(root), "/srv/app/data") == []


def test_workdir_snapshot_and_conflict(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "file").write_text("x")
    snapshotter = Snapshotter(str(root))

    created = make_workdir(str(root), "/work")
    layer = snapshotter.take_paths(created, tmp_path / "layer.tar")

    with tarfile.open(layer.path) as tar:
        assert tar.getnames() == ["work"]
    with pytest.raises(InstructionError, match="not a directory"):
        make_workdir(str(root), "/file/sub")


def test_workdir_through_symlink_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), root / "link")

    make_workdir(str(root), "/link/w")

    assert list(outside.iterdir()) == []
    assert (root / str(outside).lstrip("/") / "w").is_dir()


def test_workspace_layout_and_cleanup(tmp_path: Path) -> None:
    cache = tmp_path / "persistent-cache"

    with BuildWorkspace.create(tmp_path, cache_dir=cache) as workspace:
        stage = workspace.stage_root(0)
        (stage / "locked").mkdir()
        (stage / "locked" / "f").write_text("x")
        os.chmod(stage / "locked", 0o500)
        assert workspace.temp_dir.is_dir()
        assert workspace.layers_dir.is_dir()
        assert workspace.deps_dir(1) == workspace.base / "deps" / "1"
        base = workspace.base

    assert not base.exists()
    assert cache.is_dir()


def test_workspace_cleanup_on_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), BuildWorkspace.create(tmp_path) as workspace:
        workspace.stage_root(0)
        base = workspace.base
        raise RuntimeError("build failed")

    assert not base.exists()


def test_workspace_keep_and_wipe(tmp_path: Path) -> None:
    workspace = BuildWorkspace.create(tmp_path, keep=True)
    (workspace.stage_root(2) / "x").write_text("x")

    workspace.wipe_stage(2)
    workspace.cleanup()

    assert workspace.base.is_dir()
    assert not (workspace.base / "stages" / "2").exists()


@dataclass
class _BytesLayer:
    digest: str
    data: bytes

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)


def _layer(entries: dict[str, bytes | None], digest: str) -> _BytesLayer:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return _BytesLayer(digest, gzip.compress(buffer.getvalue()))


def test_unpack_layers_in_order_with_whiteouts(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = _layer({"etc": None, "etc/a": b"a", "etc/b": b"b"}, "sha256:" + "1" * 64)
    second = _layer({"etc/.wh.a": b"", "etc/b": b"B"}, "sha256:" + "2" * 64)

    stats = unpack_layers(root, [first, second])

    assert len(stats) == 2
    assert sorted(os.listdir(root / "etc")) == ["b"]
    assert (root / "etc" / "b").read_text() == "B"


@pytest.mark.parametrize("link", [False, True])
def test_save_link_or_copy(stage_root: Path, tmp_path: Path, link: bool) -> None:
    deps = tmp_path / "deps" / "0"

    saved = save_stage_files(str(stage_root), ["/usr/bin", "/app/*.jar"], str(deps), link=link)

    # usr/bin, tool, tool-link, a.jar and b.jar. Neither the second name of a
    # hard link nor the parent directory app is counted.
    assert saved == 5
    source = os.lstat(stage_root / "app" / "a.jar")
    copy = os.lstat(deps / "app" / "a.jar")
    assert (copy.st_ino == source.st_ino) is link
    assert (deps / "app" / "a.jar").read_text() == "a"
    assert copy.st_mtime == 1_500_000_000
    if AS_ROOT:
        assert (copy.st_uid, copy.st_gid) == (1000, 1000)
    # Hard links among the saved files stay hard links either way.
    assert os.lstat(deps / "usr" / "bin" / "tool").st_ino == os.lstat(deps / "usr" / "bin" / "tool-alias").st_ino
    assert stat.S_IMODE(os.lstat(deps / "usr" / "bin" / "tool").st_mode) == 0o4755
    assert os.readlink(deps / "usr" / "bin" / "tool-link") == "/usr/bin/tool"
