"""Read a corpus of Dockerfiles: a manifest, a fetched store, or a plain directory.

A manifest (`manifest.jsonl`) has one JSON object per Dockerfile with the fields
`id`, `repo`, `commit`, `path`, `license`, `sha256`, `bytes`, `stages` and `file`
(the copy's path relative to the manifest's folder). A directory holding a
`manifest.jsonl` is read through it; any other directory is walked for files
named like Dockerfiles. A fetched store (`*.jsonl.zst`, see `cachelab corpus
fetch`) carries the text itself.
"""

from __future__ import annotations

import builtins
import fnmatch
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cachelab.corpus.errors import CorpusError

MANIFEST_NAME = "manifest.jsonl"
# File names counted as Dockerfiles when walking a directory.
DOCKERFILE_PATTERNS = (
    "Dockerfile",
    "Dockerfile.*",
    "Dockerfile-*",
    "Dockerfile_*",
    "*.Dockerfile",
    "*.dockerfile",
    "Containerfile",
    "Containerfile.*",
)


@dataclass(frozen=True, slots=True)
class CorpusEntry:
    """One Dockerfile of a corpus and where it came from.

    `file` is the copy on disk; `text` is set instead for store records. `stages`
    is the manifest's count of `FROM` lines, not a parse result.
    """

    id: str
    file: Path | None = None
    repo: str | None = None
    commit: str | None = None
    path: str | None = None
    license: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    stages: int | None = None
    text: str | None = None

    # The field `bytes` shadows the builtin type inside this class body.
    def read_bytes(self) -> builtins.bytes:
        """Return the Dockerfile's bytes, from the store record or the file."""
        if self.text is not None:
            return self.text.encode("utf-8")
        if self.file is None:
            raise CorpusError(f"corpus entry {self.id} has neither a file nor text")
        try:
            return self.file.read_bytes()
        except FileNotFoundError:
            raise CorpusError(
                f"file of corpus entry {self.id} not found: {self.file}",
                hint="fetch the manifest's files with `cachelab corpus fetch MANIFEST` and give the store it writes",
            ) from None


def read_corpus(source: str | os.PathLike[str]) -> Iterator[CorpusEntry]:
    """Yield the entries of the corpus that `source` names, in a stable order.

    `source` takes every form of `cachelab.corpus.source.resolve_corpus`: a
    manifest, a store file, a directory, a Dockerfile, or a fetched corpus name.
    """
    # Imported here because the source module builds on this one.
    from cachelab.corpus.source import resolve_corpus

    return resolve_corpus(source).entries()


def read_manifest(manifest: Path) -> Iterator[CorpusEntry]:
    """Yield one entry per manifest line, with `file` resolved against the manifest's folder."""
    root = manifest.resolve().parent
    try:
        handle = manifest.open(encoding="utf-8")
    except OSError as exc:
        raise CorpusError(f"failed to read manifest {manifest}: {exc.strerror}") from exc

    with handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
            except ValueError as exc:
                raise CorpusError(f"{manifest}:{line_number}: invalid JSON: {exc}") from None
            if not isinstance(fields, dict) or "id" not in fields:
                raise CorpusError(f"{manifest}:{line_number}: missing field id")
            yield _entry_from_fields(fields, root, manifest, line_number)


def _entry_from_fields(
    fields: dict[str, object], root: Path, manifest: Path, line_number: int
) -> CorpusEntry:
    relative = fields.get("file") or (
        f"{fields['repo']}/{fields['path']}" if fields.get("repo") and fields.get("path") else None
    )
    file = None
    if relative:
        file = (root / str(relative)).resolve()
        if not file.is_relative_to(root):
            raise CorpusError(
                f"{manifest}:{line_number}: file {relative!r} points outside {root}",
                hint="manifest file paths must stay inside the manifest's folder",
            )
    return CorpusEntry(
        id=str(fields["id"]),
        file=file,
        repo=_optional_str(fields.get("repo")),
        commit=_optional_str(fields.get("commit")),
        path=_optional_str(fields.get("path")),
        license=_optional_str(fields.get("license")),
        sha256=_optional_str(fields.get("sha256")),
        bytes=_optional_int(fields.get("bytes")),
        stages=_optional_int(fields.get("stages")),
    )


def walk_directory(root: Path) -> Iterator[CorpusEntry]:
    """Yield every file under `root` named like a Dockerfile, sorted by relative path.

    Hidden directories (`.git`, ...) are skipped.
    """
    found: list[Path] = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        found.extend(Path(directory) / name for name in files if is_dockerfile_name(name))
    for file in sorted(found):
        relative = file.relative_to(root).as_posix()
        yield CorpusEntry(id=relative, file=file, path=relative)


def is_dockerfile_name(name: str) -> bool:
    """Tell whether a file name follows one of the usual Dockerfile naming patterns."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in DOCKERFILE_PATTERNS)


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        return None
