"""Crafted layer tars for extraction fuzzing: ordinary entries and hostile ones."""

from __future__ import annotations

import gzip
import io
import tarfile
from typing import Any


def _add(archive: tarfile.TarFile, name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"",
         linkname: str = "", mode: int = 0o644, pax: dict[str, str] | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mtime = 1_700_000_000
    if pax:
        info.pax_headers = pax
    archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _tar(entries: list[dict[str, Any]], *, format: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=format) as archive:
        for entry in entries:
            _add(archive, **entry)
    return buffer.getvalue()


def seed_tars() -> dict[str, bytes]:
    """Return named tar streams; gzip variants end in `.gz`."""
    ordinary: list[dict[str, Any]] = [
        {"name": "etc", "kind": tarfile.DIRTYPE, "mode": 0o755},
        {"name": "etc/hostname", "data": b"cachelab\n"},
        {"name": "bin", "kind": tarfile.DIRTYPE, "mode": 0o755},
        {"name": "bin/sh", "data": b"#!busybox\n" * 20, "mode": 0o755},
        {"name": "bin/ls", "kind": tarfile.SYMTYPE, "linkname": "/bin/sh"},
        {"name": "bin/cat", "kind": tarfile.LNKTYPE, "linkname": "bin/sh"},
        {"name": "var/lib/x/" + "deep/" * 30 + "file", "data": b"long name\n"},
        {"name": "etc/.wh.hostname"},
        {"name": "opt/.wh..wh..opq"},
        {"name": "opt/kept", "data": b"kept", "pax": {"SCHILY.xattr.user.note": "hi"}},
    ]
    hostile: list[dict[str, Any]] = [
        {"name": "link-out", "kind": tarfile.SYMTYPE, "linkname": "../../outside"},
        {"name": "link-out/escaped", "data": b"x"},
        {"name": "abs", "kind": tarfile.SYMTYPE, "linkname": "/"},
        {"name": "abs/../../outside/escaped-too", "data": b"x"},
        {"name": "hard", "kind": tarfile.LNKTYPE, "linkname": "../outside/sentinel"},
        {"name": "/absolute-name", "data": b"x"},
        {"name": "loop", "kind": tarfile.SYMTYPE, "linkname": "loop"},
        {"name": "loop/file", "data": b"x"},
        {"name": "dev-null", "kind": tarfile.CHRTYPE},
    ]
    chained: list[dict[str, Any]] = [
        {"name": "a", "kind": tarfile.SYMTYPE, "linkname": "b/c"},
        {"name": "b", "kind": tarfile.SYMTYPE, "linkname": "/tmp"},
        {"name": "a/file", "data": b"through two links"},
        {"name": "tmp", "kind": tarfile.SYMTYPE, "linkname": ".."},
        {"name": "tmp/file", "data": b"x"},
    ]
    seeds = {
        "ordinary.tar": _tar(ordinary),
        "ordinary-gnu.tar": _tar(ordinary, format=tarfile.GNU_FORMAT),
        "chained.tar": _tar(chained),
    }
    for index, entry in enumerate(hostile):
        seeds[f"hostile-{index}.tar"] = _tar([ordinary[0], *hostile[: index + 1]])
    seeds["ordinary.tar.gz"] = gzip.compress(seeds["ordinary.tar"], mtime=0)
    seeds["hostile.tar.gz"] = gzip.compress(_tar(hostile[:4]), mtime=0)
    return seeds
