"""COPY and ADD: put sources into a stage root by Docker's rules.

* The destination is relative to WORKDIR unless absolute. It is a directory
  when it ends with `/` or already is one (kaniko's rule); more than one source
  file needs a directory destination.
* A directory source copies its contents, not the directory itself; a file
  source lands as `<dest>/<name>` in a directory destination, else as `<dest>`.
* `--chown` names users and groups through the stage's /etc/passwd and
  /etc/group; `--chmod` takes an octal mode; `--exclude` patterns (repeatable)
  use .dockerignore syntax against source-relative paths; `--parents` keeps the
  source path below the destination; `--link` changes nothing in the files.
* Heredoc sources (`COPY <<EOF /dest`) become files named after the delimiter
  when the destination is a directory; the body is expanded only through the
  caller's `expand_body`, because kaniko expands it only with
  FF_KANIKO_EXPAND_HEREDOC and only for unquoted delimiters.
* ADD also downloads http(s) URLs (`--checksum` verified, mode 0600) and
  unpacks local tar archives (plain, gzip, bzip2, xz, zstd) into the
  destination directory; `--unpack=false` copies an archive as a file.

`execute_copy` returns the image paths it wrote, for the snapshot fast path.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachelab.build.archive import archive_kind, extract_archive
from cachelab.build.copyfiles import RecordOwner, TreeWriter
from cachelab.build.copysources import (
    MatchedSource,
    SourceRoot,
    match_sources,
    parents_path,
    walk_tree,
)
from cachelab.build.errors import CopyError, InstructionError
from cachelab.build.fetch import download, is_url
from cachelab.build.metadata import resolve_workdir
from cachelab.build.rootpath import relative_to_root, resolve_in_root
from cachelab.build.users import resolve_chown
from cachelab.dockerfile.model import Heredoc, Instruction
from cachelab.keys.dockerignore import DockerIgnore

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

Expand = Callable[[str], str]
_HEREDOC_WORD = re.compile(r"^\d*<<-?")
URL_FILE_MODE = 0o600
HEREDOC_FILE_MODE = 0o644


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What a COPY or ADD wrote: image paths (for `Snapshotter.take_paths`) and totals."""

    touched: tuple[str, ...]
    files: int
    bytes: int


def _identity(word: str) -> str:
    return word


@dataclass
class _Request:
    instruction: Instruction
    stage_root: str
    source: SourceRoot
    dest: str  # absolute, trailing `/` kept
    dest_is_dir: bool
    writer: TreeWriter
    excludes: DockerIgnore | None
    parents: bool
    temp_dir: str

    @property
    def line(self) -> int:
        return self.instruction.start_line


def execute_copy(
    instruction: Instruction,
    *,
    stage_root: str,
    source: SourceRoot,
    workdir: str = "/",
    expand: Expand = _identity,
    expand_body: Expand | None = None,
    record_owner: RecordOwner | None = None,
    http_client: httpx.Client | None = None,
    temp_dir: str | None = None,
) -> CopyResult:
    """Carry out a COPY or ADD into `stage_root`, reading sources from `source`."""
    if instruction.kind not in ("COPY", "ADD"):
        raise InstructionError("not a COPY or ADD instruction", line=instruction.start_line)
    words = _expanded_words(instruction, expand)
    if len(words) < 2:
        raise InstructionError(f"{instruction.kind} needs a source and a destination", line=instruction.start_line)
    *sources, dest_word = words
    dest = _absolute_dest(dest_word, workdir)
    request = _Request(
        instruction=instruction,
        stage_root=stage_root,
        source=source,
        dest=dest,
        dest_is_dir=dest.endswith("/") or os.path.isdir(resolve_in_root(stage_root, dest)),
        writer=TreeWriter(
            stage_root,
            chown=_chown(instruction, stage_root, expand),
            chmod=_chmod(instruction, expand),
            record_owner=record_owner,
        ),
        excludes=_excludes(instruction, expand),
        parents=_flag_true(instruction, "parents"),
        temp_dir=temp_dir or tempfile.gettempdir(),
    )

    items = _source_items(request, sources)
    if len(items) > 1 and not request.dest_is_dir:
        raise CopyError(
            f"{instruction.kind} with more than one source needs a "
            f"directory destination ending in '/', not {dest_word!r}",
            line=request.line,
        )

    touched: list[str] = []
    for item in items:
        if isinstance(item, Heredoc):
            touched.append(_copy_heredoc(request, item, expand_body))
        elif isinstance(item, str):
            touched.append(_copy_url(request, item, http_client))
        else:
            touched.append(_copy_path(request, *item))
    # Report where the files really are: a symlink on the destination path was
    # followed inside the root, and the snapshot must not follow it again.
    resolved = ["/" + relative_to_root(stage_root, resolve_in_root(stage_root, path, follow_last=False))
                for path in touched]
    result = CopyResult(tuple(dict.fromkeys(resolved)), request.writer.file_count, request.writer.byte_count)
    logger.debug("line %d: %s wrote %d files, %d bytes", request.line, instruction.kind,
                 result.files, result.bytes)
    return result


def _source_items(request: _Request, sources: list[str]) -> list[Heredoc | str | tuple[str, MatchedSource]]:
    """List what each source word names: a heredoc, a URL, or (word, matched path) pairs."""
    heredocs = list(request.instruction.heredocs)
    items: list[Heredoc | str | tuple[str, MatchedSource]] = []
    for word in sources:
        if _HEREDOC_WORD.match(word) and heredocs:
            items.append(heredocs.pop(0))
        elif is_url(word):
            if request.instruction.kind != "ADD":
                raise CopyError(f"COPY does not accept URLs ({word}); use ADD", line=request.line)
            items.append(word)
        else:
            matches = match_sources(request.source, word, line=request.line)
            if request.excludes is not None:
                matches = [match for match in matches if not request.excludes.excludes(match.rel)]
            items.extend((word, match) for match in matches)
    return items


def _expanded_words(instruction: Instruction, expand: Expand) -> list[str]:
    return [word if _HEREDOC_WORD.match(word) else expand(word) for word in instruction.args]


def _absolute_dest(dest: str, workdir: str) -> str:
    trailing = dest in (".", "..") or dest.endswith(("/", "/.", "/.."))
    absolute = resolve_workdir(workdir, dest)
    if trailing and absolute != "/":
        absolute += "/"
    return absolute


def _flag_true(instruction: Instruction, name: str) -> bool:
    value = instruction.flag(name)
    return value is not None and value.lower() in ("", "true", "1")


def _chown(instruction: Instruction, stage_root: str, expand: Expand) -> tuple[int, int] | None:
    value = instruction.flag("chown")
    if value is None or value == "":
        return None
    return resolve_chown(stage_root, expand(value))


def _chmod(instruction: Instruction, expand: Expand) -> int | None:
    value = instruction.flag("chmod")
    if value is None or value == "":
        return None
    value = expand(value)
    if not re.fullmatch(r"[0-7]{3,4}", value):
        raise InstructionError(
            f"invalid --chmod={value}",
            hint="Give an octal mode such as --chmod=0755.",
            line=instruction.start_line,
        )
    return int(value, 8)


def _excludes(instruction: Instruction, expand: Expand) -> DockerIgnore | None:
    patterns = [expand(value) for value in instruction.flag_values("exclude")]
    return DockerIgnore(patterns) if patterns else None


def _target_for_file(request: _Request, name: str) -> str:
    if request.dest_is_dir:
        return request.dest.rstrip("/") + "/" + name
    return request.dest


def _copy_heredoc(request: _Request, heredoc: Heredoc, expand_body: Expand | None) -> str:
    body = heredoc.chomped_body
    if expand_body is not None and not heredoc.quoted:
        body = expand_body(body)
    target = _target_for_file(request, heredoc.name)
    host = request.writer.destination(target)
    request.writer.write_content(host, body.encode("utf-8"), mode=HEREDOC_FILE_MODE, mtime=time.time())
    return target


def _copy_url(request: _Request, url: str, client: httpx.Client | None) -> str:
    fd, temp_path = tempfile.mkstemp(prefix="add-", dir=request.temp_dir)
    os.close(fd)
    fetched = download(url, temp_path, checksum=request.instruction.flag("checksum"),
                       client=client, line=request.line)
    target = _target_for_file(request, fetched.filename)
    host = request.writer.destination(target)
    unpack = request.instruction.flag("unpack")
    if unpack is not None and unpack.lower() in ("", "true", "1"):
        kind = archive_kind(temp_path)
        if kind is not None:
            directory = request.writer.ensure_dir(request.dest)
            extract_archive(temp_path, directory, kind)
            os.unlink(temp_path)
            return request.dest.rstrip("/") or "/"
    request.writer.place_file(temp_path, host, mode=URL_FILE_MODE, mtime=fetched.mtime or time.time())
    return target


def _copy_path(request: _Request, word: str, match: MatchedSource) -> str:
    relative = parents_path(word, match.rel) if request.parents else ""
    if match.is_dir:
        target_dir = request.dest.rstrip("/") or "/"
        if relative:
            target_dir = posixpath.join(target_dir, relative)
        _copy_directory(request, match, target_dir)
        return target_dir

    if request.instruction.kind == "ADD" and _unpacks(request):
        kind = archive_kind(match.host_path)
        if kind is not None:
            directory = request.writer.ensure_dir(request.dest)
            extract_archive(match.host_path, directory, kind)
            return request.dest.rstrip("/") or "/"

    if relative:
        target = posixpath.join(request.dest.rstrip("/") or "/", relative)
    else:
        target = _target_for_file(request, posixpath.basename(match.rel) or posixpath.basename(match.host_path))
    host = request.writer.destination(target)
    request.writer.copy_entry(match.host_path, host, os.stat(match.host_path))
    return target


def _unpacks(request: _Request) -> bool:
    value = request.instruction.flag("unpack")
    return value is None or value.lower() in ("", "true", "1")


def _copy_directory(request: _Request, match: MatchedSource, target_dir: str) -> None:
    writer = request.writer
    # A destination directory this COPY creates takes the source directory's
    # mode, owner and time; an existing one keeps its own.
    created = not os.path.isdir(resolve_in_root(request.stage_root, target_dir))
    top_host = writer.ensure_dir(target_dir)
    if created:
        writer.copy_entry(match.host_path, top_host, os.stat(match.host_path))

    # An excluded directory is skipped whole, unless `!` patterns could bring
    # back something below it; then each entry is checked on its own.
    can_prune = not _has_exceptions(request.source.dockerignore) and not _has_exceptions(request.excludes)
    directories: list[tuple[str, os.stat_result]] = []
    skipped: list[str] = []
    for rel, entry in walk_tree(match.host_path):
        if any(rel.startswith(prefix + "/") for prefix in skipped):
            continue
        source_rel = f"{match.rel}/{rel}" if match.rel else rel
        if request.source.excluded(source_rel) or (request.excludes and request.excludes.excludes(rel)):
            if can_prune and entry.is_dir(follow_symlinks=False):
                skipped.append(rel)
            continue
        st = entry.stat(follow_symlinks=False)
        dest_host = os.path.join(top_host, rel)
        if not os.path.isdir(os.path.dirname(dest_host)):
            writer.ensure_dir(posixpath.join(target_dir, posixpath.dirname(rel)))
        writer.copy_entry(entry.path, dest_host, st)
        if entry.is_dir(follow_symlinks=False):
            directories.append((dest_host, st))
    # Writing children changed the directories' times; set them last, deepest first.
    for dest_host, st in reversed(directories):
        writer.finish_dir(dest_host, st)
    if created:
        writer.finish_dir(top_host, os.stat(match.host_path))


def _has_exceptions(ignore: DockerIgnore | None) -> bool:
    return ignore is not None and any(pattern.startswith("!") for pattern in ignore.patterns)
