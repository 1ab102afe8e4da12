"""A read-only pass over a layer that applies extraction's entry rules without writing files.

`cachelab image import` runs it on the layer it made, so an image whose layer
every consumer would reject (an entry named `../x`, a symlink climbing out of the
root) is never written. The rules are those of `cachelab.oci.extract`, checked on
names alone: symlinks met on an entry's parent path are followed in a table of
the symlinks seen so far, chroot-style, as extraction follows them on disk. The
layer is checked as the bottom layer of an image, so a hard link must name an
entry of the same layer.

NOTE: device nodes and the size limit are not checked here, because whether
extraction accepts them depends on the consumer (running as root or not) and
its limit.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from typing import BinaryIO

from cachelab.oci.compression import open_decompressed
from cachelab.oci.errors import InvalidLayerError, UnsafeLayerError
from cachelab.oci.extract import MAX_SYMLINK_HOPS
from cachelab.oci.tarindex import LAYER_STREAM_ERRORS

Reject = Callable[[str], UnsafeLayerError]


def check_layer_entries(blob: BinaryIO, *, layer: str, image: str | None = None) -> int:
    """Read a compressed or plain layer and raise UnsafeLayerError at the first entry extraction would reject.

    `layer` names the layer in errors (a digest or a file), and `image` is the
    reference it is meant for. Returns the number of entries checked.
    """
    symlinks: dict[str, str] = {}
    names: set[str] = set()
    entries = 0
    try:
        with open_decompressed(blob) as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                _check_member(member, symlinks, names, layer, image)
                entries += 1
    except LAYER_STREAM_ERRORS as error:
        raise InvalidLayerError(layer, f"{type(error).__name__}: {error}", image=image) from error
    return entries


def _check_member(member: tarfile.TarInfo, symlinks: dict[str, str], names: set[str],
                  layer: str, image: str | None) -> None:
    def reject(reason: str) -> UnsafeLayerError:
        return UnsafeLayerError(layer, member.name, reason, image=image)

    if member.name.startswith("/"):
        raise reject("absolute path")
    parts = [part for part in member.name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise reject("path contains '..'")
    if not parts:
        return
    parent = _resolve(parts[:-1], symlinks, reject)
    name = "/".join([*parent, parts[-1]])

    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()
            or member.ischr() or member.isblk() or member.isfifo()):
        raise reject(f"unsupported tar entry type {member.type!r}")
    if member.issym():
        _check_symlink_target(member.linkname, len(parent), reject)
        symlinks[name] = member.linkname
    else:
        symlinks.pop(name, None)
    if member.islnk():
        link = [part for part in member.linkname.split("/") if part not in ("", ".")]
        if member.linkname.startswith("/") or ".." in link:
            raise reject(f"hard link target {member.linkname!r} is absolute or contains '..'")
        if not link:
            raise reject("hard link to the root directory")
        source = "/".join([*_resolve(link[:-1], symlinks, reject), link[-1]])
        if source not in names:
            raise reject(f"hard link target {member.linkname!r} does not exist")
    names.add(name)


def _check_symlink_target(link: str, depth: int, reject: Reject) -> None:
    if link.startswith("/"):
        return  # an absolute target stays inside the root when the image runs
    for part in link.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise reject(f"symlink target {link!r} leads outside the root")
        elif part not in ("", "."):
            depth += 1


def _resolve(parts: list[str], symlinks: dict[str, str], reject: Reject) -> list[str]:
    """Resolve directory components inside the root through the symlinks seen so far."""
    pending = list(parts)
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise reject("a symlink on its path leads outside the root")
            resolved.pop()
            continue
        target = symlinks.get("/".join([*resolved, part]))
        if target is None:
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise reject("too many levels of symlinks on its path")
        if target.startswith("/"):
            resolved = []
        pending = [*target.split("/"), *pending]
    return resolved

