#!/usr/bin/env python3
"""Split the static study's time per file into parsing, each Planner pass and the rest.

Run it from the repository root (pytest does not collect it):

    CACHELAB_SHARED=../shared python3 tests/bench/bench_study_split.py --rounds 3

It reads every Dockerfile of real-v1 into memory, studies them all once to warm
the interpreter, then times `Study.study_text` over the corpus `--rounds` times.
Each round wraps the study's own calls with a timer: `parse_dockerfile`, every
`simulate_build` of the model (labelled by profile and by cold or warm build),
`static_stage_plans` and the row builders. "other" is what remains: the stage
graph, the planner setup and the bind-mount bookkeeping. The best round is
printed, in milliseconds for the whole corpus and in microseconds per file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import cachelab.corpus.study as corpus_study
import cachelab.model.warm as model_warm
from cachelab.corpus.manifest import read_corpus

Timings = defaultdict[str, float]


def timed(label: str | Callable[..., str], function: Callable[..., object], timings: Timings) -> Callable[..., object]:
    """Wrap `function` so that each call adds its wall time to `timings[label]`."""

    def wrapper(*args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            name = label(*args, **kwargs) if callable(label) else label
            timings[name] += time.perf_counter() - started

    return wrapper


def simulate_label(*_args: object, **kwargs: object) -> str:
    # warm_rebuild passes costs=False only to the cold build that fills the cache.
    build = "cold" if kwargs.get("costs") is False else "warm"
    return f"model {kwargs['profile']} {build}"


def instrument(timings: Timings) -> None:
    """Replace the study's collaborators, as the study module and the model see them, with timed ones."""
    corpus_study.parse_dockerfile = timed("parse", corpus_study.parse_dockerfile, timings)
    corpus_study.static_stage_plans = timed("static plan kaniko", corpus_study.static_stage_plans, timings)
    corpus_study._stage_rows = timed("rows", corpus_study._stage_rows, timings)
    corpus_study._file_shape = timed("rows", corpus_study._file_shape, timings)
    model_warm.simulate_build = timed(simulate_label, model_warm.simulate_build, timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over the corpus (default: 3)")
    options = parser.parse_args(argv)

    shared = os.environ.get("CACHELAB_SHARED")
    if not shared:
        parser.error("set CACHELAB_SHARED to the folder that contains corpora/real-v1")
    logging.getLogger("cachelab").setLevel(logging.ERROR)
    entries = read_corpus(Path(shared) / "corpora" / "real-v1")
    texts = [(entry.id, entry.read_bytes().decode("utf-8")) for entry in entries]

    timings: Timings = defaultdict(float)
    instrument(timings)
    best: tuple[float, dict[str, float]] | None = None
    with corpus_study.Study() as study:
        for identifier, text in texts:
            study.study_text(text, identifier)

        for _ in range(options.rounds):
            timings.clear()
            started = time.perf_counter()
            for identifier, text in texts:
                study.study_text(text, identifier)
            total = time.perf_counter() - started
            if best is None or total < best[0]:
                best = (total, dict(timings))

    assert best is not None
    total, split = best
    split["other"] = total - sum(split.values())
    files = len(texts)
    print(f"{files} files, best of {options.rounds} rounds: {total * 1e3:.0f} ms, {files / total:,.0f} files/s")
    for label, seconds in sorted(split.items(), key=lambda item: -item[1]):
        print(f"  {label:<32} {seconds * 1e3:7.1f} ms  {seconds / files * 1e6:6.0f} us/file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
