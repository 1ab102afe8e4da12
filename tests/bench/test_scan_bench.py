"""Throughput of the static scan over the real-v1 corpus (run with --benchmark-enable).

The texts are read into memory first, so the number measures parsing, stage
planning and feature counting on one core, not disk reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.corpus.manifest import read_corpus
from cachelab.corpus.scan import scan_text

pytestmark = pytest.mark.corpus


def test_scan_throughput(benchmark, shared: Path):
    entries = list(read_corpus(shared / "corpora" / "real-v1"))
    texts = [(entry, entry.read_bytes().decode("utf-8")) for entry in entries]

    def scan_all() -> int:
        return sum(scan_text(text, entry=entry).parsed for entry, text in texts)

    parsed = benchmark(scan_all)

    assert parsed == 557
    if benchmark.stats is not None:
        files_per_second = len(texts) / benchmark.stats.stats.min
        benchmark.extra_info["files"] = len(texts)
        benchmark.extra_info["files_per_second_best"] = round(files_per_second)
