"""Fetch a corpus of Dockerfiles named by a manifest into a local store.

A manifest is JSON Lines, one Dockerfile per line, with its provenance (`repo`,
`commit`, `path`, `license`) and the `sha256` of its bytes. Files come from their
pinned commits over HTTP, or from a local copy laid out as the manifest's `file`
fields say (`--from-dir`). Every file is checked against its sha256; a mismatch is
reported and never stored. Re-running reuses the records the store already contains
whose text still matches their sha256, and fetches the others again. A fetch that
stores no file writes no store and leaves an earlier one as it was.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cachelab.corpus.errors import CorpusError
from cachelab.corpus.manifest import CorpusEntry, read_manifest
from cachelab.corpus.source import resolve_corpus
from cachelab.corpus.store import (
    CorpusRecord,
    check_writable,
    fetched_store_path,
    read_store,
    remove_empty_folders,
    text_sha256,
    write_store,
)

logger = logging.getLogger(__name__)

# Raw file URL of a file at a commit on the hosting service the manifests name.
RAW_URL_TEMPLATE = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
# Downloads in a row that fail to connect before the fetch stops, instead of
# waiting out the timeout of every remaining file of an unreachable server.
MAX_UNREACHABLE_IN_ROW = 5


@dataclass
class FetchReport:
    """Outcome of one fetch: counts, the failures by id, and the store written.

    `damaged` lists the ids of stored records whose text did not match their
    sha256; they were fetched again, and any that failed are also in `failures`.
    `written` is False when no file was stored, so no store was written.
    """

    store: Path
    fetched: int = 0
    reused: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    written: bool = False
    # Latest downloads in a row that failed to connect or timed out; any other outcome resets it.
    unreachable_in_row: int = 0

    @property
    def stored(self) -> int:
        return self.fetched + self.reused


def default_store_path(manifest: Path) -> Path:
    """Return the default store of a manifest, named after the manifest's folder."""
    return fetched_store_path(manifest.resolve().parent.name)


def _read_local(entry: CorpusEntry, manifest_root: Path, from_dir: Path) -> bytes:
    # The manifest's `file` fields are relative to its own folder; the local copy
    # has the same layout under `from_dir`.
    if entry.file is None:
        raise OSError(f"manifest entry {entry.id} names no file")
    candidate = from_dir / entry.file.relative_to(manifest_root)
    return candidate.read_bytes()


def _check_local_copy(from_dir: Path, entries: list[CorpusEntry], manifest_root: Path) -> None:
    """Raise CorpusError, before anything is written, when `from_dir` contains none of the manifest's files."""
    relative = [entry.file.relative_to(manifest_root) for entry in entries if entry.file is not None]
    if not relative or any((from_dir / path).is_file() for path in relative):
        return
    example = relative[0]
    # A common mistake is to give the `files/` folder itself, one level too deep.
    found_in = next((folder for folder in from_dir.resolve().parents if (folder / example).is_file()), None)
    if found_in is not None:
        hint = f"Pass --from-dir {found_in}, the folder that contains {example.parts[0]}/ as the manifest's `file` fields say."
    else:
        hint = (
            f"Pass --from-dir the folder the manifest's `file` fields are relative to, "
            f"so that it contains {example}."
        )
    raise CorpusError(
        f"none of the {len(relative)} files the manifest names is in --from-dir {from_dir} "
        f"(the first would be {from_dir / example})",
        hint=hint,
    )


class _ServerUnreachable(OSError):
    """A download that failed to connect or timed out."""


class FetchStopped(CorpusError):
    """A fetch stopped early because the server was unreachable; `report` has the failures so far."""

    def __init__(self, message: str, *, hint: str, report: FetchReport) -> None:
        super().__init__(message, hint=hint)
        self.report = report


def _read_remote(entry: CorpusEntry, client: httpx.Client, template: str) -> bytes:
    url = template.format(repo=entry.repo, commit=entry.commit, path=entry.path)
    try:
        response = client.get(url)
    except (httpx.ConnectError, httpx.TimeoutException) as exc:
        raise _ServerUnreachable(f"GET {url} failed: {exc}") from exc
    except httpx.HTTPError as exc:
        raise OSError(f"GET {url} failed: {exc}") from exc
    if response.status_code != 200:
        raise OSError(f"GET {url} returned HTTP {response.status_code}")
    return response.content


def fetch_corpus(
    manifest: Path,
    *,
    store: Path | None = None,
    from_dir: Path | None = None,
    url_template: str = RAW_URL_TEMPLATE,
    client: httpx.Client | None = None,
    progress: bool = False,
) -> FetchReport:
    """Fetch every file of `manifest` into `store` and return what happened."""
    if from_dir is not None and not from_dir.is_dir():
        raise CorpusError(
            f"local copy directory not found: {from_dir}",
            hint="give --from-dir the folder laid out as the manifest's `file` fields say, or leave it out to download",
        )
    store = store or default_store_path(manifest)
    # A store that cannot be written would fail only after every download.
    created = check_writable(store)
    try:
        return _fetch_into(
            store, manifest, from_dir=from_dir, url_template=url_template, client=client, progress=progress,
        )
    finally:
        # A fetch that wrote no store leaves no new empty folder behind either.
        remove_empty_folders(created)


def _fetch_into(
    store: Path,
    manifest: Path,
    *,
    from_dir: Path | None,
    url_template: str,
    client: httpx.Client | None,
    progress: bool,
) -> FetchReport:
    entries = list(read_manifest(manifest))
    manifest_root = manifest.resolve().parent
    if from_dir is not None:
        _check_local_copy(from_dir, entries, manifest_root)
    existing = _existing_records(store)
    report = FetchReport(store=store)
    records: list[CorpusRecord] = []

    owned_client = client is None and from_dir is None
    if owned_client:
        client = httpx.Client(timeout=30.0, follow_redirects=True)
    visited = 0
    try:
        iterator = entries
        if progress:
            from tqdm import tqdm

            iterator = tqdm(entries, desc="fetching corpus", unit="file")
        for entry in iterator:
            record = _fetch_one(
                entry, existing, manifest_root, from_dir, client, url_template, report
            )
            if record is not None:
                records.append(record)
            visited += 1
            if report.unreachable_in_row >= MAX_UNREACHABLE_IN_ROW:
                report.written = _keep_partial(
                    store, records, existing, entries[visited:], total=len(entries), why="stopped"
                )
                raise FetchStopped(
                    f"stopped fetching after {report.unreachable_in_row} downloads in a row failed "
                    f"to connect, the last one {report.failures[-1][1].removeprefix('not fetched: ')}",
                    hint="check the network connection, or pass --from-dir with a local copy of the files; "
                    "running the command again keeps what was fetched",
                    report=report,
                )
    except KeyboardInterrupt:
        _keep_partial(store, records, existing, entries[visited:], total=len(entries), why="interrupted")
        raise
    finally:
        if owned_client and client is not None:
            client.close()

    if records:
        write_store(store, records)
        report.written = True
    else:
        # An empty store would list the corpus as fetched although nothing can be scanned.
        logger.warning("no Dockerfile was fetched, so %s was not written", store)
    return report


def _existing_records(store: Path) -> dict[str, CorpusRecord]:
    """Return the records a previous fetch stored, by id. An unreadable store counts as empty.

    Records are not checked against their sha256 here; `_fetch_one` does that per record.
    """
    if not store.is_file():
        return {}
    try:
        return {record.id: record for record in read_store(store, verify=False)}
    except CorpusError as exc:
        # The fetch rewrites the whole store, so a damaged one is replaced, not repaired.
        logger.warning("ignoring the unreadable store %s and fetching every file again: %s", store, exc)
        return {}


def _keep_partial(
    store: Path,
    records: list[CorpusRecord],
    existing: dict[str, CorpusRecord],
    remaining: list[CorpusEntry],
    *,
    total: int,
    why: str,
) -> bool:
    """Store the files a stopped fetch has so far, so that running it again resumes.

    `why` describes how the fetch stopped. Returns whether a store was written:
    with no file to keep, an earlier store stays as it was.
    """
    # Records of entries the loop never reached stay as the previous store had them.
    partial = records + [existing[entry.id] for entry in remaining if entry.id in existing]
    if not partial:
        logger.warning("fetch %s before any Dockerfile was fetched, so %s was not written", why, store)
        return False
    write_store(store, partial)
    logger.warning(
        "fetch %s: kept %d of %d Dockerfiles in %s; run the same command again to fetch the rest",
        why, len(partial), total, store,
    )
    return True


def _fetch_one(
    entry: CorpusEntry,
    existing: dict[str, CorpusRecord],
    manifest_root: Path,
    from_dir: Path | None,
    client: httpx.Client | None,
    url_template: str,
    report: FetchReport,
) -> CorpusRecord | None:
    entry_id = entry.id
    expected = entry.sha256
    if expected is None:
        report.failures.append((entry_id, "not fetched: the manifest gives no sha256"))
        return None
    known = existing.get(entry_id)
    if known is not None and known.sha256 == expected:
        if text_sha256(known) == expected:
            report.reused += 1
            return known
        # The CLI lists these ids once at the end, so one line each is only INFO.
        logger.info("stored record %s does not match its sha256; fetching it again", entry_id)
        report.damaged.append(entry_id)

    try:
        if from_dir is not None:
            data = _read_local(entry, manifest_root, from_dir)
        else:
            assert client is not None
            data = _read_remote(entry, client, url_template)
    except _ServerUnreachable as exc:
        report.failures.append((entry_id, f"not fetched: {exc}"))
        report.unreachable_in_row += 1
        return None
    except OSError as exc:
        report.failures.append((entry_id, f"not fetched: {exc}"))
        report.unreachable_in_row = 0
        return None
    report.unreachable_in_row = 0

    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        report.failures.append((entry_id, f"sha256 mismatch: expected {expected}, got {actual}"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.failures.append((entry_id, f"not UTF-8 text: {exc}"))
        return None

    report.fetched += 1
    return CorpusRecord(
        id=entry_id,
        repo=entry.repo,
        commit=entry.commit,
        path=entry.path,
        license=entry.license,
        sha256=expected,
        stages=entry.stages,
        text=text,
    )


def load(corpus: str | Path) -> Iterator[CorpusRecord]:
    """Yield the records of a fetched corpus, by store path or by name (`real-v1`)."""
    source = resolve_corpus(corpus)
    if source.kind != "store":
        raise CorpusError(
            f"{corpus} is a {source.describe()}, not a fetched store",
            hint="fetch it with `cachelab corpus fetch`, or read it with cachelab.corpus.manifest.read_corpus",
        )
    return read_store(source.path)
