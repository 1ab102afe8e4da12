"""Writing copied files into a stage root with the owners, modes and times COPY sets.

Owners: `--chown` when given; otherwise the source's own uid and gid are kept,
as kaniko does with its "do not change" default owner (Docker would use 0:0 for
files from the build context). As
root, owners are set with `lchown`; otherwise they go to the snapshot's owner
side table through `record_owner`. Modes: `--chmod` for every copied file and
directory when given, else the source's mode. Modification times are kept.
Directories created on the way to the destination get mode 0755 and the
`--chown` owner (root without it).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from cachelab.build.errors import CopyError
from cachelab.build.rootpath import relative_to_root, resolve_in_root

logger = logging.getLogger(__name__)

RecordOwner = Callable[[str, int, int], None]


@dataclass
class TreeWriter:
    """Writes files, links and directories below one stage root."""

    root: str
    chown: tuple[int, int] | None = None
    chmod: int | None = None
    record_owner: RecordOwner | None = None
    file_count: int = 0
    byte_count: int = 0
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)

    def destination(self, path: str) -> str:
        """Return the host path for an absolute path in the image; parents made as needed."""
        parent, _, name = path.rstrip("/").rpartition("/")
        parent_host = self.ensure_dir(parent or "/")
        if not name:
            return parent_host
        return os.path.join(parent_host, name)

    def ensure_dir(self, path: str) -> str:
        """Create `path` (absolute in the image) and its missing parents; return its host path."""
        current = "/"
        for part in [item for item in path.split("/") if item]:
            current = current.rstrip("/") + "/" + part
            host = resolve_in_root(self.root, current)
            if os.path.isdir(host):
                continue
            if os.path.lexists(host):
                raise CopyError(f"cannot create directory {current}: a file is in the way")
            self._make_missing(host)
        return resolve_in_root(self.root, path)

    def _make_missing(self, host: str) -> None:
        # `host` may lie below directories that do not exist yet when a symlink
        # on the way points to a missing path; `resolve_in_root` kept it inside.
        missing: list[str] = []
        current = host
        while not os.path.isdir(current) and current != self.root:
            missing.append(current)
            current = os.path.dirname(current)
        owner = self.chown or (0, 0)
        for directory in reversed(missing):
            os.mkdir(directory)
            os.chmod(directory, 0o755)
            self._set_owner(directory, *owner)

    def copy_entry(self, source: str, dest_host: str, st: os.stat_result) -> None:
        """Copy one file, symlink or directory entry (not its children) to `dest_host`."""
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            self._make_dir(dest_host, st)
            return
        self._clear_for_file(dest_host)
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(source), dest_host)
        elif stat.S_ISREG(mode):
            shutil.copyfile(source, dest_host, follow_symlinks=False)
            self.byte_count += st.st_size
        else:
            raise CopyError(f"cannot copy {source}: not a regular file, directory or symlink")
        self.file_count += 1
        self._finish(dest_host, st)

    def write_content(self, dest_host: str, data: bytes, *, mode: int, mtime: float) -> None:
        """Write `data` as a new file (heredoc sources)."""
        self._clear_for_file(dest_host)
        with open(dest_host, "wb") as out:
            out.write(data)
        self.file_count += 1
        self.byte_count += len(data)
        self._apply(dest_host, mode=mode, uid=0, gid=0, mtime=mtime, is_link=False)

    def place_file(self, temp_path: str, dest_host: str, *, mode: int, mtime: float) -> None:
        """Move a downloaded file into place (ADD of a URL)."""
        self._clear_for_file(dest_host)
        shutil.move(temp_path, dest_host)
        self.file_count += 1
        self.byte_count += os.path.getsize(dest_host)
        self._apply(dest_host, mode=mode, uid=0, gid=0, mtime=mtime, is_link=False)

    def finish_dir(self, dest_host: str, st: os.stat_result) -> None:
        """Set a copied directory's times after its children are written."""
        os.utime(dest_host, ns=(st.st_mtime_ns, st.st_mtime_ns))

    def _make_dir(self, dest_host: str, st: os.stat_result) -> None:
        if os.path.lexists(dest_host) and not os.path.isdir(dest_host):
            os.unlink(dest_host)
        if not os.path.isdir(dest_host):
            os.mkdir(dest_host)
        self._finish(dest_host, st)

    def _clear_for_file(self, dest_host: str) -> None:
        if os.path.isdir(dest_host) and not os.path.islink(dest_host):
            rel = relative_to_root(self.root, dest_host)
            raise CopyError(f"cannot copy a file over the directory /{rel}")
        if os.path.lexists(dest_host):
            os.unlink(dest_host)

    def _finish(self, dest_host: str, st: os.stat_result) -> None:
        self._apply(
            dest_host,
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            mtime_ns=st.st_mtime_ns,
            is_link=stat.S_ISLNK(st.st_mode),
        )

    def _apply(
        self,
        dest_host: str,
        *,
        mode: int,
        uid: int,
        gid: int,
        is_link: bool,
        mtime: float | None = None,
        mtime_ns: int | None = None,
    ) -> None:
        if not is_link:
            os.chmod(dest_host, self.chmod if self.chmod is not None else mode)
        owner = self.chown or (uid, gid)
        self._set_owner(dest_host, *owner)
        if mtime_ns is None:
            mtime_ns = int((mtime or 0) * 1_000_000_000)
        os.utime(dest_host, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def _set_owner(self, host: str, uid: int, gid: int) -> None:
        if self.as_root:
            os.lchown(host, uid, gid)
            return
        current = os.lstat(host)
        if (current.st_uid, current.st_gid) != (uid, gid) and self.record_owner is not None:
            self.record_owner(relative_to_root(self.root, host), uid, gid)
