"""`cachelab scan`: static features of every Dockerfile in a corpus, as a table."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from cachelab.cli._outputs import create_parent_folders, output_error, remove_created_folders
from cachelab.cli.study import CORPUS_FORMS
from cachelab.errors import CachelabError

logger = logging.getLogger(__name__)

_FORMATS = {".parquet": "parquet", ".csv": "csv"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="tabulate static features of every Dockerfile in a corpus",
        description=(
            "Parse every Dockerfile of a corpus and write one row of static features per file: "
            "stages, COPY --from edges, FROM-chain length, base pinning, remote ADDs, "
            "cache mounts, heredocs, and the parse outcome."
        ),
    )
    parser.add_argument("source", metavar="CORPUS", help=f"the corpus to scan: {CORPUS_FORMS}")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="FILE",
        help="output table; the extension picks the format (.parquet or .csv). Missing folders "
        "above FILE are created, and removed again if the scan fails",
    )
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on stderr (default auto: only on a terminal and outside CI)",
    )
    parser.set_defaults(handler=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    import pandas as pd
    from tqdm import tqdm

    from cachelab.corpus.scan import COLUMNS, row_as_dict, scan_entries
    from cachelab.corpus.source import resolve_corpus

    output_format = _FORMATS.get(args.out.suffix.lower())
    if output_format is None:
        raise CachelabError(
            f"unsupported output extension {args.out.suffix!r} for {args.out}",
            hint="name the output file *.parquet or *.csv",
        )

    source = resolve_corpus(args.source)
    logger.info("scanning the %s", source.describe())
    # Created before the scan, as study creates its --out, so an unwritable path fails first.
    created = create_parent_folders(args.out, option="--out")
    try:
        started = time.perf_counter()
        entries = source.entries()
        with tqdm(
            entries,
            desc="scan",
            unit="file",
            file=sys.stderr,
            disable=not _show_progress(args.progress),
        ) as progress:
            rows = [row_as_dict(row) for row in scan_entries(progress)]
        elapsed = time.perf_counter() - started

        frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
        _write_table(frame, args.out, output_format)
    except BaseException:
        remove_created_folders(created)
        raise

    sys.stdout.write(format_summary(frame, elapsed))
    sys.stdout.write(f"wrote {len(frame)} rows to {args.out}\n")
    return 0


def _write_table(frame, path: Path, output_format: str) -> None:  # type: ignore[no-untyped-def]
    try:
        if output_format == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
    except OSError as exc:
        raise output_error(path, exc, option="--out") from exc


def _show_progress(mode: str) -> bool:
    if mode != "auto":
        return mode == "always"
    return sys.stderr.isatty() and not os.environ.get("CI")


def format_summary(frame, elapsed: float) -> str:  # type: ignore[no-untyped-def]
    """Render a few corpus totals from the scan table as text lines."""
    total = len(frame)
    if total == 0:
        return "scanned 0 files\n"
    parsed = int(frame["parsed"].sum())
    planned = int((frame["parsed"] & frame["graph_error"].isna()).sum())
    rate = total / elapsed if elapsed > 0 else float("inf")

    def share(mask) -> str:  # type: ignore[no-untyped-def]
        count = int(mask.sum())
        return f"{count} ({100 * count / total:.0f}%)"

    digest = int(frame["base_digest"].sum())
    tag = int(frame["base_tag"].sum())
    latest = int(frame["base_latest"].sum())
    lines = [
        f"scanned {total} files in {elapsed:.2f} s ({rate:.0f} files/s)",
        f"parsed: {parsed}, failed: {total - parsed}, stage graph planned: {planned}",
        f"multistage: {share(frame['multistage'])}",
        (
            f"with COPY --from a stage: {share(frame['copy_from_stage'] > 0)}, "
            f"an image: {share(frame['copy_from_image'] > 0)}"
        ),
        (
            f"with RUN --mount=type=cache: {share(frame['run_mount_cache'] > 0)}, "
            f"heredocs: {share(frame['heredocs'] > 0)}"
        ),
        (
            f"remote ADD: {int(frame['remote_add'].sum())}, "
            f"with --checksum: {int(frame['remote_add_checksum'].sum())}"
        ),
        f"external bases by digest: {digest}, by tag: {tag}, latest: {latest}",
        f"max FROM-chain length: {int(frame['from_chain_length'].max())}",
    ]
    return "\n".join(lines) + "\n"
