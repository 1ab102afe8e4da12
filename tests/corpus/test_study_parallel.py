"""Studies on worker processes: input order, a bounded read-ahead, and parts written by the workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cachelab.corpus.manifest import CorpusEntry
from cachelab.corpus.study import StudySettings
from cachelab.corpus.study_output import StudyWriter, load_model_recording, read_study
from cachelab.corpus.study_parallel import map_in_order, study_corpus, study_parts


def two_stage(index: int) -> str:
    return f"FROM busybox:1.36 AS build\nRUN echo {index} > /n\nFROM scratch\nCOPY --from=build /n /n\n"


class CountingEntries:
    """A stream of small Dockerfiles that records how many entries have been taken from it."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.taken = 0

    def __iter__(self) -> Iterator[CorpusEntry]:
        for index in range(self.count):
            self.taken += 1
            yield CorpusEntry(id=f"f{index:03d}/Dockerfile", text=two_stage(index))


def test_map_in_order_bounds_read_ahead():
    taken = 0

    def items() -> Iterator[int]:
        nonlocal taken
        for item in range(50):
            taken += 1
            yield item

    def slow_every_third(item: int) -> int:
        # Later items finish first, so only the window keeps the reader from running ahead.
        if item % 3 == 0:
            time.sleep(0.01)
        return item * 2

    with ThreadPoolExecutor(4) as executor:
        results = []
        for position, result in enumerate(map_in_order(slow_every_third, items(), executor=executor, window=3), start=1):
            assert taken <= position + 2, f"read {taken} items when yielding result {position}"
            results.append(result)

    assert results == [item * 2 for item in range(50)]


def test_map_in_order_cancels_on_close():
    started: list[int] = []
    release = threading.Event()

    def blocked(item: int) -> int:
        started.append(item)
        if item > 0:
            release.wait(10)
        return item

    with ThreadPoolExecutor(1) as executor:
        results = map_in_order(blocked, range(10), executor=executor, window=4)
        assert next(results) == 0
        # Items 1 to 3 were submitted; at most item 1 has started, because it blocks the one thread.
        results.close()
        release.set()

    assert set(started) <= {0, 1}


def test_map_in_order_rejects_empty_window():
    with ThreadPoolExecutor(1) as executor, pytest.raises(ValueError, match="invalid window 0"):
        next(map_in_order(str, [1], executor=executor, window=0))


def test_study_corpus_bounds_read_ahead():
    entries = CountingEntries(120)
    chunk_size, window = 4, 2 * 2
    seen = []

    for consumed, study in enumerate(study_corpus(entries, workers=2, chunk_size=chunk_size), start=1):
        lead = entries.taken - consumed
        assert lead < chunk_size * (window + 1), f"read {entries.taken} entries with {consumed} consumed"
        seen.append(study.dockerfile_id)
        # A slow consumer: under Pool.imap the reader would take the whole stream meanwhile.
        time.sleep(0.002)

    assert seen == [f"f{index:03d}/Dockerfile" for index in range(120)]


def test_study_parts_keep_order(tmp_path: Path):
    entries = CountingEntries(45)
    settings = StudySettings(record_events=True, run_id="test")
    model_dir = tmp_path / "out" / "model"

    with StudyWriter(tmp_path / "out") as writer:
        for part in study_parts(entries, settings, model_dir, workers=2, part_files=4):
            assert entries.taken - writer.files_written <= 4 * (2 * 2 + 1)
            writer.add_part(part)

    files, stages = read_study(tmp_path / "out")
    expected = [f"f{index:03d}/Dockerfile" for index in range(45)]
    assert files["dockerfile_id"].tolist() == expected
    assert files["error"].isna().all()
    assert stages["dockerfile_id"].drop_duplicates().tolist() == expected
    assert sorted(path.name for path in model_dir.iterdir()) == [f"part-{index:05d}" for index in range(12)]
    builds = load_model_recording(tmp_path / "out").builds
    assert builds["dockerfile_id"].drop_duplicates().tolist() == expected


def test_study_parts_match_serial(tmp_path: Path):
    settings = StudySettings(record_events=True, run_id="test")

    serial = list(study_parts(CountingEntries(9), settings, tmp_path / "serial", part_files=4))
    parallel = list(study_parts(CountingEntries(9), settings, tmp_path / "parallel", workers=2, part_files=4))

    assert [part.file_count for part in parallel] == [4, 4, 1]
    for one, other in zip(serial, parallel, strict=True):
        assert one.files.equals(other.files)
        assert one.stages.equals(other.stages)
        assert one.builds is not None and other.builds is not None
        assert one.builds["wall_s"].tolist() == other.builds["wall_s"].tolist()
