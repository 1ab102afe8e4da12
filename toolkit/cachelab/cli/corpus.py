"""`cachelab corpus fetch`: download a corpus of Dockerfiles into the local store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cachelab
from cachelab.corpus.errors import CorpusError

# Manifests shipped with the checkout, by name (`cachelab corpus fetch real-v1`).
DATASETS_DIR = Path(cachelab.__file__).resolve().parents[2] / "datasets" / "corpora"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("corpus", help="fetch and list corpora of Dockerfiles")
    verbs = parser.add_subparsers(dest="corpus_command", metavar="VERB", required=True)

    fetch = verbs.add_parser(
        "fetch",
        help="download the Dockerfiles of a manifest, verify their sha256, store them",
        description=(
            "Download every Dockerfile named in MANIFEST from its pinned commit (or copy it "
            "from --from-dir), verify its sha256 and store the corpus as one zstd-compressed "
            "JSON Lines file. Re-running fetches only what is missing or changed."
        ),
    )
    fetch.add_argument("manifest", help="a manifest.jsonl path, or the name of a shipped corpus (e.g. real-v1)")
    fetch.add_argument("--from-dir", type=Path, help="read files from this local copy instead of the network")
    fetch.add_argument("--store", type=Path, help="store file to write (default: in the cachelab cache dir)")
    fetch.add_argument(
        "--url-template",
        default=None,
        help="URL of one file, with {repo}, {commit} and {path} placeholders "
        "(default: the hosting service's raw file URL)",
    )
    fetch.set_defaults(handler=run_fetch)


def resolve_manifest(name: str) -> Path:
    """A manifest path as given, or the shipped manifest of that corpus name."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = DATASETS_DIR / name / "manifest.jsonl"
    if shipped.is_file():
        return shipped
    known = sorted(entry.name for entry in DATASETS_DIR.iterdir()) if DATASETS_DIR.is_dir() else []
    raise CorpusError(
        f"manifest not found: {name}",
        hint=f"give a path to a manifest.jsonl or one of: {', '.join(known) or '(none shipped)'}",
    )


def run_fetch(args: argparse.Namespace) -> int:
    from cachelab.corpus.fetch import RAW_URL_TEMPLATE, fetch_corpus

    manifest = resolve_manifest(args.manifest)
    report = fetch_corpus(
        manifest,
        store=args.store,
        from_dir=args.from_dir,
        url_template=args.url_template or RAW_URL_TEMPLATE,
        progress=sys.stderr.isatty(),
    )
    print(
        f"stored {report.stored} Dockerfiles in {report.store} "
        f"({report.fetched} fetched, {report.reused} already present, {len(report.failures)} failed)"
    )
    for entry_id, reason in report.failures:
        print(f"  failed {entry_id}: {reason}", file=sys.stderr)
    return 1 if report.failures else 0
