"""Save the files a later `COPY --from=<stage>` reads, before the stage root is wiped.

kaniko copies each stage's cross-stage dependencies into `/kaniko/deps/<index>`
and COPY --from reads them there. `save_stage_files` does the same into a deps
directory: each requested path (absolute in the image, wildcards allowed)
keeps its place below the deps directory, with modes, owners, symlinks, hard
links and modification times. A symlink is saved together with what it points
to, so that a later COPY that follows it finds the target.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cachelab.build.copy_from import CopyFromLine
from cachelab.build.copysources import SourceRoot, match_sources, walk_tree
from cachelab.build.errors import BuildError, InstructionFailed
from cachelab.build.rootpath import relative_to_root, resolve_in_root

logger = logging.getLogger(__name__)

MAX_LINK_DEPTH = 40  # symlinks followed for one path, as Linux's MAXSYMLINKS


@dataclass
class _Saver:
    stage_root: str
    deps_dir: str
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    link: bool = False  # hard-link regular files instead of copying them
    inodes: dict[tuple[int, int], str] = field(default_factory=dict)
    saved: set[str] = field(default_factory=set)
    files: int = 0

    def save(self, path: str, depth: int = 0) -> None:
        # Symlinks among the parents (`/lib` -> `usr/lib`) are saved as links and
        # followed inside the root, never by the host's path resolution.
        parts = path.split("/")
        for index in range(1, len(parts)):
            parent = resolve_in_root(self.stage_root, "/".join(parts[:index]), follow_last=False)
            if os.path.islink(parent) and depth < MAX_LINK_DEPTH:
                self.save(relative_to_root(self.stage_root, parent), depth + 1)
        rel = relative_to_root(self.stage_root, resolve_in_root(self.stage_root, path, follow_last=False))
        if rel in self.saved or not rel:
            return
        source = os.path.join(self.stage_root, rel)
        st = os.lstat(source)
        self._parents(rel)
        self._entry(rel, source, st)
        if stat.S_ISLNK(st.st_mode) and depth < MAX_LINK_DEPTH:
            target = resolve_in_root(self.stage_root, rel)
            if os.path.lexists(target):
                self.save(relative_to_root(self.stage_root, target), depth + 1)
        elif stat.S_ISDIR(st.st_mode):
            directories = [(rel, st)]
            for child, entry in walk_tree(source):
                child_rel = f"{rel}/{child}"
                child_st = entry.stat(follow_symlinks=False)
                self._entry(child_rel, entry.path, child_st)
                if stat.S_ISDIR(child_st.st_mode):
                    directories.append((child_rel, child_st))
            for directory, dir_st in reversed(directories):
                os.utime(os.path.join(self.deps_dir, directory), ns=(dir_st.st_mtime_ns, dir_st.st_mtime_ns))

    def _parents(self, rel: str) -> None:
        parts = rel.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/".join(parts[:depth])
            dest = os.path.join(self.deps_dir, parent)
            if os.path.isdir(dest):
                continue
            st = os.lstat(os.path.join(self.stage_root, parent))
            os.mkdir(dest)
            self._attributes(dest, st)

    def _entry(self, rel: str, source: str, st: os.stat_result) -> None:
        dest = os.path.join(self.deps_dir, rel)
        self.saved.add(rel)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            if not os.path.isdir(dest):
                os.mkdir(dest)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(source), dest)
        elif stat.S_ISREG(mode):
            inode = (st.st_dev, st.st_ino)
            first = self.inodes.get(inode) if st.st_nlink > 1 else None
            if first is not None:
                os.link(first, dest)
                return
            if not (self.link and _try_link(source, dest)):
                shutil.copyfile(source, dest, follow_symlinks=False)
            if st.st_nlink > 1:
                self.inodes[inode] = dest
        else:
            logger.debug("not saving %s: special file", rel)
            return
        self.files += 1
        self._attributes(dest, st)

    def _attributes(self, dest: str, st: os.stat_result) -> None:
        is_link = stat.S_ISLNK(st.st_mode)
        if self.as_root:
            os.lchown(dest, st.st_uid, st.st_gid)
        if not is_link:
            os.chmod(dest, stat.S_IMODE(st.st_mode))
        os.utime(dest, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)


def save_stage_files(
    stage_root: str,
    paths: Iterable[str],
    deps_dir: str,
    *,
    description: str | None = None,
    needed_by: Mapping[str, CopyFromLine] | None = None,
    link: bool = False,
) -> int:
    """Copy `paths` (image paths, wildcards allowed) from `stage_root` into `deps_dir`.

    With `link`, regular files are hard-linked instead of copied (copied when
    linking fails). Pass it only when nothing writes to `stage_root` afterwards,
    because the saved files share their inodes with it until it is removed.
    Returns the number of entries saved. A path that matches nothing raises
    `CopySourceNotFound` naming `description` (default: the root's host path),
    and an OSError while saving raises `InstructionFailed`. Both name the line
    and text of the `COPY --from` that `needed_by` maps the path to. NOTE:
    without root privileges owners are not kept.
    """
    os.makedirs(deps_dir, exist_ok=True)
    saver = _Saver(stage_root, deps_dir, link=link)
    root = SourceRoot(stage_root, description or f"stage root {stage_root}")
    for path in paths:
        reader = (needed_by or {}).get(path)
        try:
            _save_path(saver, root, path)
        except BuildError as error:
            if reader is not None:
                error.locate(reader.line, reader.text)
            raise
        except OSError as error:
            failure = InstructionFailed(f"saving {path} from {root.description} failed: {error}")
            if reader is not None:
                failure.locate(reader.line, reader.text)
            raise failure from error
    logger.debug("saved %d entries of %s into %s", saver.files, stage_root, deps_dir)
    return saver.files


def _try_link(source: str, dest: str) -> bool:
    try:
        os.link(source, dest, follow_symlinks=False)
    except OSError as error:
        logger.debug("cannot link %s to %s (%s); copying it", source, dest, error)
        return False
    return True


def _save_path(saver: _Saver, root: SourceRoot, path: str) -> None:
    for match in match_sources(root, path, line=None):
        if match.rel:
            saver.save(match.rel)
        else:
            for child in sorted(os.listdir(root.path)):
                saver.save(child)
