"""A corpus on disk: one zstd-compressed JSON Lines file.

Each line is one Dockerfile: its provenance fields from the manifest (`id`, `repo`,
`commit`, `path`, `license`, `sha256`, `stages`) plus `text`. A single compressed
file keeps 100k Dockerfiles to a few tens of megabytes and one sequential read.
"""

from __future__ import annotations

import codecs
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import zstandard

from cachelab.cachedir import cache_home
from cachelab.corpus.errors import CorpusError

# Folder below the cache root for the stores that `cachelab corpus fetch` writes by default.
CORPORA_SUBDIR = "corpora"
STORE_SUFFIX = ".jsonl.zst"
READ_CHUNK_BYTES = 1 << 20
REFETCH_HINT = "delete the store and fetch the corpus again with `cachelab corpus fetch`"


@dataclass(frozen=True, slots=True)
class CorpusRecord:
    """One Dockerfile of a corpus, with where it came from."""

    id: str
    repo: str | None
    commit: str | None
    path: str | None
    license: str | None
    sha256: str
    stages: int | None
    text: str


def read_store(path: Path) -> Iterator[CorpusRecord]:
    """Stream the records of a corpus store file.

    Raises CorpusError when the file is missing, is not zstd data, ends before
    its zstd frame does (a truncated copy), or contains a line that is no record.
    """
    if not path.is_file():
        raise CorpusError(
            f"corpus store not found: {path}",
            hint="run `cachelab corpus fetch MANIFEST` first",
        )
    for line_number, line in enumerate(_store_lines(path), 1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            yield CorpusRecord(**{name: fields.get(name) for name in CorpusRecord.__slots__})
        except (ValueError, TypeError) as exc:
            raise CorpusError(
                f"{path}: line {line_number} is not a corpus record: {exc}",
                hint=REFETCH_HINT,
            ) from exc


def _store_lines(path: Path) -> Iterator[str]:
    """Decompress `path` chunk by chunk and yield its text lines."""
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    with path.open("rb") as raw:
        while chunk := raw.read(READ_CHUNK_BYTES):
            try:
                text = decoder.decode(decompressor.decompress(chunk))
            except zstandard.ZstdError as exc:
                raise CorpusError(f"{path}: not a zstd-compressed corpus store: {exc}", hint=REFETCH_HINT) from exc
            except UnicodeDecodeError as exc:
                raise CorpusError(f"{path}: the decompressed store is not UTF-8 text: {exc}", hint=REFETCH_HINT) from exc
            lines = (pending + text).split("\n")
            pending = lines.pop()
            yield from lines
            # write_store writes a single frame, so data past its end is no part of the store.
            if decompressor.eof:
                break
    if not decompressor.eof:
        raise CorpusError(f"{path}: the store is truncated (its zstd frame has no end)", hint=REFETCH_HINT)
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: the decompressed store is not UTF-8 text: {exc}", hint=REFETCH_HINT) from exc
    if pending:
        yield pending


def write_store(path: Path, records: Iterable[CorpusRecord]) -> int:
    """Write `records` to `path` atomically; return how many were written.

    The file appears under its name only once complete, so an interrupted fetch
    leaves the previous store intact.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as raw:
            with zstandard.ZstdCompressor(level=10).stream_writer(raw, closefd=False) as writer:
                for record in records:
                    line = json.dumps(asdict(record), ensure_ascii=False, sort_keys=True) + "\n"
                    writer.write(line.encode("utf-8"))
                    count += 1
            raw.flush()
            os.fsync(raw.fileno())
        # mkstemp creates the file private; a corpus is shareable data.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def fetched_store_path(name: str) -> Path:
    """Return the default store of the corpus `name` in the cache directory (it may not exist)."""
    return cache_home() / CORPORA_SUBDIR / f"{name}{STORE_SUFFIX}"


def fetched_corpus_names() -> list[str]:
    """Return the names of the corpora whose stores are in the cache directory, sorted."""
    directory = cache_home() / CORPORA_SUBDIR
    if not directory.is_dir():
        return []
    return sorted(path.name.removesuffix(STORE_SUFFIX) for path in directory.glob(f"*{STORE_SUFFIX}"))
