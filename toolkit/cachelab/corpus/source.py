"""Resolve the CORPUS argument of `cachelab scan`, `study` and `compare --mode`.

Every command that reads a corpus passes its argument to `resolve_corpus`, so
they all accept the same forms, tried in this order:

1. An existing path. A file is a fetched store when it starts with the zstd
   magic number, a manifest when it is named `*.jsonl` or starts with `{`, and
   a single Dockerfile otherwise. A directory that contains `manifest.jsonl` is
   read through it, and any other directory is walked for files named like
   Dockerfiles.
2. The name of a corpus fetched into the cache directory
   (`$CACHELAB_CACHE_DIR/corpora/NAME.jsonl.zst`, see `cachelab.cachedir`).

When nothing matches, the error names both places tried, and the hint gives the
command that fetches a shipped corpus, or the fetched name closest to a typo.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cachelab
from cachelab.corpus.errors import CorpusError
from cachelab.corpus.manifest import (
    DOCKERFILE_PATTERNS,
    MANIFEST_NAME,
    CorpusEntry,
    read_manifest,
    walk_directory,
)
from cachelab.corpus.store import fetched_corpus_names, fetched_store_path, read_store

logger = logging.getLogger(__name__)

# Manifests shipped with a checkout, one folder per corpus name (`datasets/corpora/real-v1`).
SHIPPED_CORPORA_DIR = Path(cachelab.__file__).resolve().parents[2] / "datasets" / "corpora"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
FORMS = "a directory of Dockerfiles, a manifest.jsonl, a *.jsonl.zst store, a Dockerfile, or a fetched corpus name"


@dataclass(frozen=True, slots=True)
class CorpusSource:
    """A resolved corpus argument: its kind (`store`, `manifest`, `directory` or `dockerfile`) and path."""

    argument: str
    kind: str
    path: Path

    def entries(self) -> Iterator[CorpusEntry]:
        """Stream the corpus's entries, and raise CorpusError if it contains none.

        Each call reads the corpus again from the start.
        """
        count = 0
        for entry in self._read():
            count += 1
            yield entry
        if count == 0:
            raise CorpusError(f"no Dockerfiles found in the {self.describe()}", hint=self._empty_hint())

    def describe(self) -> str:
        """Return what was read, e.g. `fetched store /root/.cache/cachelab/corpora/real-v1.jsonl.zst`."""
        labels = {
            "store": "fetched store",
            "manifest": "manifest",
            "directory": "directory",
            "dockerfile": "Dockerfile",
        }
        return f"{labels[self.kind]} {self.path}"

    def _read(self) -> Iterator[CorpusEntry]:
        if self.kind == "store":
            return _store_entries(self.path)
        if self.kind == "manifest":
            return read_manifest(self.path)
        if self.kind == "directory":
            return walk_directory(self.path)
        return iter([CorpusEntry(id=self.path.name, file=self.path, path=self.path.name)])

    def _empty_hint(self) -> str:
        if self.kind == "directory":
            return f"put files named like Dockerfiles ({', '.join(DOCKERFILE_PATTERNS)}) in it, or give a manifest"
        if self.kind == "store":
            return "fetch the corpus again with `cachelab corpus fetch` and check that it reports no failures"
        return "add one JSON line per Dockerfile to the manifest"


def resolve_corpus(argument: str | os.PathLike[str]) -> CorpusSource:
    """Resolve a CORPUS argument to the corpus it names; raise CorpusError if it names none."""
    text = os.fspath(argument)
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / MANIFEST_NAME).is_file():
            return CorpusSource(text, "manifest", path / MANIFEST_NAME)
        return CorpusSource(text, "directory", path)
    if path.is_file():
        return CorpusSource(text, _file_kind(path), path)
    if path.exists():
        raise CorpusError(f"corpus {text} is neither a file nor a directory", hint=f"give {FORMS}")

    if _is_name(text):
        store = fetched_store_path(text)
        if store.is_file():
            logger.info("corpus %s is the fetched store %s", text, store)
            return CorpusSource(text, "store", store)
    raise _not_found(text, path)


def _file_kind(path: Path) -> str:
    """Tell a store, a manifest and a Dockerfile apart by magic number, suffix and first character."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(ZSTD_MAGIC):
        return "store"
    if path.name.endswith(".zst"):
        raise CorpusError(
            f"{path}: not a zstd-compressed corpus store (it does not start with the zstd magic number)",
            hint="delete the store and fetch the corpus again with `cachelab corpus fetch`",
        )
    if path.suffix in (".jsonl", ".json") or head.lstrip().startswith(b"{"):
        return "manifest"
    return "dockerfile"


def _is_name(text: str) -> bool:
    """Tell whether `text` can be a corpus name: one path component, no store suffix."""
    return bool(text) and "/" not in text and os.sep not in text and not text.endswith(".zst")


def _not_found(text: str, path: Path) -> CorpusError:
    tried = [f"the path {path.absolute()}"]
    if _is_name(text):
        tried.append(f"the fetched corpus {fetched_store_path(text)}")
    message = f"corpus not found: {text} (tried {' and '.join(tried)})"
    return CorpusError(message, hint=_not_found_hint(text))


def _not_found_hint(text: str) -> str:
    fetched = fetched_corpus_names()
    shipped = shipped_corpus_names()
    if text in shipped:
        return f"run `cachelab corpus fetch {text}` to download it into {fetched_store_path(text).parent}"
    close = difflib.get_close_matches(text, [*fetched, *shipped], n=1)
    if close:
        return f"did you mean {close[0]}? `cachelab corpus list` shows the fetched and shipped corpora"
    if fetched:
        return f"give {FORMS}; fetched corpora: {', '.join(fetched)}"
    return f"give {FORMS}; no corpus is fetched yet (`cachelab corpus list` shows the shipped ones)"


def shipped_corpus_names() -> list[str]:
    """Return the names of the corpora whose manifests ship with this checkout, sorted."""
    if not SHIPPED_CORPORA_DIR.is_dir():
        return []
    return sorted(entry.name for entry in SHIPPED_CORPORA_DIR.iterdir() if (entry / MANIFEST_NAME).is_file())


def shipped_manifest(name: str) -> Path | None:
    """Return the shipped manifest of the corpus `name`, or None when no such corpus ships."""
    manifest = SHIPPED_CORPORA_DIR / name / MANIFEST_NAME
    return manifest if _is_name(name) and manifest.is_file() else None


def _store_entries(path: Path) -> Iterator[CorpusEntry]:
    for record in read_store(path):
        yield CorpusEntry(
            id=record.id,
            repo=record.repo,
            commit=record.commit,
            path=record.path,
            license=record.license,
            sha256=record.sha256,
            stages=record.stages,
            text=record.text,
        )
