#!/usr/bin/env python3
"""Time `cachelab study --mode model` on a large synthetic corpus and report its peak memory.

Run it from the repository root (pytest does not collect it):

    CACHELAB_SHARED=../shared python3 tests/bench/bench_study_scale.py --files 20000 --workers 2

It copies the Dockerfiles of a source corpus round-robin into a temporary
directory until there are `--files` of them. Folder `rNNN` contains copy NNN,
so every file has its own id. Then it runs `python -m cachelab study DIR
--mode model --workers W --out OUT` as one process with `CI=1`, so no progress
bar is drawn. The source defaults to real-v1: the reference folder
(`$CACHELAB_SHARED/corpora/real-v1`, else `shared` beside the checkout), else
the store fetched by `cachelab corpus fetch real-v1`.

It prints the wall time, files per second, two peaks of resident memory, and
how many lines the study wrote to stderr (its log). The first peak comes from
`getrusage(RUSAGE_CHILDREN)` and is that of the study's main process only.
The workers are children of multiprocessing's fork server, which the study
process never waits for, so their usage never reaches this script. The second is the largest sum of VmRSS over every process of the
study's session (main process, fork server and workers), read from /proc
every `SAMPLE_SECONDS`. It counts pages shared between processes once per
process, and it can miss a peak shorter than a sample.

`--toolkit DIR` runs the study from another checkout's `toolkit` directory
through PYTHONPATH, to measure a commit before a change.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_SECONDS = 0.5


def default_source() -> str:
    """Return the real-v1 reference folder if present, else the fetched corpus name `real-v1`."""
    configured = os.environ.get("CACHELAB_SHARED")
    shared = Path(configured) if configured else REPO_ROOT.parent / "shared"
    folder = shared / "corpora" / "real-v1"
    return str(folder) if folder.is_dir() else "real-v1"


def write_corpus(source: str, files: int, directory: Path) -> int:
    """Copy the Dockerfiles of `source` round-robin into `directory` until there are `files`; return the count."""
    from cachelab.corpus.source import resolve_corpus

    texts = [entry.read_bytes() for entry in resolve_corpus(source).entries()]
    width = len(str(len(texts) - 1))
    copies = -(-files // len(texts))
    written = 0
    for copy in range(copies):
        folder = directory / f"r{copy:0{len(str(copies - 1))}d}"
        folder.mkdir(parents=True)
        for index, data in enumerate(texts[: files - written]):
            (folder / f"{index:0{width}d}.Dockerfile").write_bytes(data)
        written += min(len(texts), files - written)
    return written


def session_rss_mib(session: int) -> float:
    """Return the summed VmRSS of the processes in `session`, in MiB (Linux only)."""
    total_kib = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the command name, which is in parentheses and may contain spaces.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue  # the process ended while it was read
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def run_study(
    corpus: Path, out: Path, workers: int, toolkit: Path | None, scratch: Path,
) -> tuple[float, float, int, str]:
    """Run the study CLI once; return its wall time, peak session RSS (MiB), stderr line count and command."""
    env = {**os.environ, "CI": "1", "CACHELAB_CACHE_DIR": str(scratch / "cache")}
    if toolkit is not None:
        env["PYTHONPATH"] = str(toolkit)
    command = [
        sys.executable, "-m", "cachelab", "study", str(corpus), "--mode", "model",
        "--workers", str(workers), "--out", str(out),
    ]
    # stderr goes to a file, because a pipe read only after the child exits could fill and block it.
    log = scratch / "stderr.txt"
    peak = 0.0
    with log.open("wb") as stderr:
        started = time.perf_counter()
        # A session of its own, so the study's processes can be found by session id.
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        while process.poll() is None:
            peak = max(peak, session_rss_mib(process.pid))
            time.sleep(SAMPLE_SECONDS)
        wall = time.perf_counter() - started
    text = log.read_text(errors="replace")
    if process.returncode != 0:
        sys.stderr.write(text[-5000:])
        raise SystemExit(f"study failed with exit code {process.returncode}: {' '.join(command)}")
    return wall, peak, len(text.splitlines()), " ".join(command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000, help="Dockerfiles in the synthetic corpus (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="the study's --workers (default: %(default)s)")
    parser.add_argument("--source", default=None, help="corpus to copy from, in any form `cachelab study` accepts "
                        "(default: real-v1 from the reference folder or the fetched store)")
    parser.add_argument("--toolkit", type=Path, default=None,
                        help="run the study from this checkout's toolkit directory (default: the installed cachelab)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="write the corpus and outputs into DIR and keep them (default: a temporary directory)")
    args = parser.parse_args(argv)

    scratch = args.keep or Path(tempfile.mkdtemp(prefix="cachelab-bench-scale-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        source = args.source or default_source()
        files = write_corpus(source, args.files, scratch / "files")
        wall, session_peak, log_lines, command = run_study(
            scratch / "files", scratch / "out", args.workers, args.toolkit, scratch,
        )
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)

    # On Linux ru_maxrss is in kibibytes.
    main_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"command: {command}")
    print(f"source: {source}, files: {files}, workers: {args.workers}")
    print(f"wall: {wall:.1f} s, {files / wall:.0f} files/s")
    print(f"peak RSS: study main process {main_peak:.0f} MiB, all study processes (sampled) {session_peak:.0f} MiB, "
          f"this script {own:.0f} MiB")
    print(f"stderr lines: {log_lines}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
