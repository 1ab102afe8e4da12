"""A corpus on disk: one zstd-compressed JSON Lines file.

Each line is one Dockerfile: its provenance fields from the manifest (`id`, `repo`,
`commit`, `path`, `license`, `sha256`, `stages`) plus `text`. A single compressed
file keeps 100k Dockerfiles to a few tens of megabytes and one sequential read.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import zstandard

from cachelab.corpus.errors import CorpusError

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
    """Stream the records of a corpus store file."""
    if not path.is_file():
        raise CorpusError(
            f"corpus store not found: {path}",
            hint="run `cachelab corpus fetch MANIFEST` first",
        )
    with path.open("rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        for line_number, line in enumerate(io.TextIOWrapper(reader, encoding="utf-8"), 1):
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
                yield CorpusRecord(**{name: fields.get(name) for name in CorpusRecord.__slots__})
            except (ValueError, TypeError) as exc:
                raise CorpusError(
                    f"{path}: line {line_number} is not a corpus record: {exc}",
                    hint="delete the store and fetch the corpus again",
                ) from exc


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
