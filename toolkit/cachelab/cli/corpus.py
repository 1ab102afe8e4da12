"""`cachelab corpus fetch|list`: download corpora of Dockerfiles and show the ones available."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cachelab.corpus.errors import CorpusError

if TYPE_CHECKING:
    from cachelab.corpus.fetch import FetchReport

# Failed files (one per line) and refetched damaged records that `corpus fetch` names; the rest are counted.
MAX_FAILURES_SHOWN = 20


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "corpus",
        help="fetch and list corpora of Dockerfiles",
        description=(
            "Fetch a corpus of Dockerfiles into the cache directory ($CACHELAB_CACHE_DIR/corpora, "
            "default ~/.cache/cachelab/corpora), or list the shipped and fetched corpora. "
            "`cachelab scan`, `study` and `compare --mode` then take the corpus by name."
        ),
    )
    verbs = parser.add_subparsers(dest="corpus_command", metavar="VERB", required=True)

    fetch = verbs.add_parser(
        "fetch",
        help="download the Dockerfiles of a manifest, verify their sha256, store them",
        description=(
            "Download every Dockerfile named in MANIFEST from its pinned commit (or copy it "
            "from --from-dir), verify its sha256 and store the corpus as one zstd-compressed "
            "JSON Lines file. Re-running fetches only what is missing, changed, or stored with "
            "text that no longer matches its sha256; an interrupted fetch (Ctrl-C) keeps what it "
            "has fetched, so running it again resumes. A fetch that stores no file writes no store."
        ),
    )
    fetch.add_argument(
        "manifest", metavar="MANIFEST",
        help="a manifest.jsonl path, or the name of a shipped corpus (`cachelab corpus list` shows them)",
    )
    fetch.add_argument(
        "--from-dir", type=Path, metavar="DIR",
        help="read files from this local copy instead of the network: the folder the manifest's "
        "`file` fields are relative to (the one containing files/, not files/ itself)",
    )
    fetch.add_argument(
        "--store", type=Path,
        help="store file to write (default: $CACHELAB_CACHE_DIR/corpora/NAME.jsonl.zst, "
        "NAME being the manifest's folder name)",
    )
    fetch.add_argument(
        "--url-template",
        default=None,
        help="URL of one file, with {repo}, {commit} and {path} placeholders "
        "(default: the hosting service's raw file URL)",
    )
    fetch.set_defaults(handler=run_fetch)

    listing = verbs.add_parser(
        "list",
        help="list the shipped corpora and the corpora fetched into the cache directory",
        description=(
            "Print one line per corpus: its name, whether it is fetched, and the store or "
            "manifest path. A fetched name can be given to scan, study and compare --mode."
        ),
    )
    listing.set_defaults(handler=run_list)


def resolve_manifest(name: str) -> Path:
    """Return the manifest path `name` gives, or the shipped manifest of that corpus name."""
    from cachelab.corpus.source import shipped_corpus_names, shipped_manifest

    path = Path(name)
    if path.is_file():
        return path
    if path.is_dir() and (path / "manifest.jsonl").is_file():
        return path / "manifest.jsonl"
    shipped = shipped_manifest(name)
    if shipped is not None:
        return shipped
    known = shipped_corpus_names()
    raise CorpusError(
        f"manifest not found: {name}",
        hint=f"give a path to a manifest.jsonl or one of: {', '.join(known) or '(none shipped)'}",
    )


def run_fetch(args: argparse.Namespace) -> int:
    from cachelab.corpus.fetch import RAW_URL_TEMPLATE, FetchStopped, default_store_path, fetch_corpus
    from cachelab.corpus.store import fetched_store_path

    manifest = resolve_manifest(args.manifest)
    try:
        report = fetch_corpus(
            manifest,
            store=args.store,
            from_dir=args.from_dir,
            url_template=args.url_template or RAW_URL_TEMPLATE,
            progress=sys.stderr.isatty(),
        )
    except FetchStopped as stopped:
        _print_failures(stopped.report)
        raise
    if report.written:
        print(
            f"stored {report.stored} Dockerfiles in {report.store} "
            f"({report.fetched} fetched, {report.reused} already present, {len(report.failures)} failed)"
        )
    else:
        outcome = "the earlier store was left as it was" if report.store.exists() else "no store was written"
        reason = f"all {len(report.failures)} failed" if report.failures else "the manifest lists none"
        print(f"stored no Dockerfiles, because {reason}; {outcome}: {report.store}")
    if report.damaged:
        count = len(report.damaged)
        ids = ", ".join(report.damaged[:MAX_FAILURES_SHOWN]) + (" ..." if count > MAX_FAILURES_SHOWN else "")
        noun = "Dockerfile" if count == 1 else "Dockerfiles"
        print(
            f"fetched again {count} stored {noun} whose text did not match the sha256: {ids}",
            file=sys.stderr,
        )
    _print_failures(report)

    if not report.written:
        return 1
    # Name the corpus as scan and study take it: by name when the store is the default one.
    name = default_store_path(manifest).name.removesuffix(".jsonl.zst")
    default = report.store.absolute() == fetched_store_path(name).absolute()
    print(f"study it with: cachelab study {name if default else report.store} --mode model --out DIR")
    return 1 if report.failures else 0


def _print_failures(report: FetchReport) -> None:
    for entry_id, reason in report.failures[:MAX_FAILURES_SHOWN]:
        print(f"  failed {entry_id}: {reason}", file=sys.stderr)
    hidden = len(report.failures) - MAX_FAILURES_SHOWN
    if hidden > 0:
        print(f"  ... and {hidden} more failed", file=sys.stderr)


def run_list(args: argparse.Namespace) -> int:
    from cachelab.corpus.source import shipped_corpus_names, shipped_manifest
    from cachelab.corpus.store import fetched_corpus_names, fetched_store_path

    fetched = set(fetched_corpus_names())
    names = sorted(fetched | set(shipped_corpus_names()))
    if not names:
        print(f"no corpora: none shipped, none fetched into {fetched_store_path('NAME').parent}")
        return 0
    for name in names:
        if name in fetched:
            print(f"{name:<20} fetched   {fetched_store_path(name)}")
        else:
            print(f"{name:<20} shipped   {shipped_manifest(name)} (fetch it with `cachelab corpus fetch {name}`)")
    return 0
