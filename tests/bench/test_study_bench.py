"""Throughput of the static study plus model over real-v1 (run with --benchmark-enable).

Texts are read into memory first. One round studies every file on one core:
parse, stage graph, and for each of the three profiles a simulated cold build
and a planned warm rebuild with modelled costs. Parsing alone (the `dockerfile`
package's Go parser) is measured too, because it bounds the study's rate.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cachelab.corpus.manifest import read_corpus
from cachelab.corpus.study import Study
from cachelab.dockerfile import DockerfileError, parse_dockerfile

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def texts(shared: Path) -> list[tuple[str, str]]:
    logging.getLogger("cachelab.keys.parts").setLevel(logging.ERROR)
    entries = read_corpus(shared / "corpora" / "real-v1")
    return [(entry.id, entry.read_bytes().decode("utf-8")) for entry in entries]


def record_rate(benchmark, files: int) -> None:  # type: ignore[no-untyped-def]
    if benchmark.stats is not None:
        benchmark.extra_info["files"] = files
        benchmark.extra_info["files_per_second_best"] = round(files / benchmark.stats.stats.min)


def test_study_and_model_throughput(benchmark, texts):
    with Study() as study:
        def study_all() -> int:
            return sum(study.study_text(text, identifier).file_row["error"] is None for identifier, text in texts)

        studied = benchmark.pedantic(study_all, rounds=3, iterations=1)

    assert studied == 528
    record_rate(benchmark, len(texts))


def test_parse_throughput(benchmark, texts):
    def parse_all() -> int:
        parsed = 0
        for identifier, text in texts:
            try:
                parse_dockerfile(text, identifier)
            except DockerfileError:
                continue
            parsed += 1
        return parsed

    parsed = benchmark(parse_all)

    assert parsed >= 530
    record_rate(benchmark, len(texts))
