"""Study a stream of corpus entries in chunks, on worker processes, in input order.

Memory stays bounded whatever the corpus size: at most `window` chunks (by
default two per worker) are submitted and not yet consumed, and the next chunk
is read from the stream only when the consumer takes the oldest result. So
neither the input nor finished results pile up when the consumer is slower
than the workers, or the workers slower than the reader.

Workers ignore SIGINT. On Ctrl-C, or any error in the consumer, the chunks not
yet started are cancelled and the pool shuts down after the running chunks
end, before the exception leaves the generator.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

from cachelab.corpus.manifest import CorpusEntry
from cachelab.corpus.study import FileStudy, Study, StudySettings, study_entries, study_entry
from cachelab.corpus.study_output import PART_FILES, StudiedPart, write_part

Item = TypeVar("Item")
Result = TypeVar("Result")
# A chunk as sent to a worker: (Dockerfile id, file bytes) pairs.
Chunk = list[tuple[str, bytes]]

DEFAULT_CHUNK_SIZE = 64


def map_in_order(
    function: Callable[[Item], Result], items: Iterable[Item], *, executor: Executor, window: int,
) -> Iterator[Result]:
    """Yield `function(item)` for each of `items`, in input order, with at most `window` calls not yet yielded.

    `items` is read lazily: when the k-th result is yielded, at most
    `k + window - 1` items have been taken from it. Calls not started when the
    generator is closed or raises are cancelled.
    """
    if window < 1:
        raise ValueError(f"invalid window {window}: expected at least 1")
    pending: deque[Future[Result]] = deque()
    try:
        for item in items:
            pending.append(executor.submit(function, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def study_corpus(
    entries: Iterable[CorpusEntry],
    settings: StudySettings | None = None,
    *,
    workers: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[FileStudy]:
    """Study a stream of entries, in input order, on `workers` processes (1: this process).

    Entries are read and sent in chunks of `chunk_size`, and at most two
    chunks per worker are in flight, so memory is bounded by that window
    whatever the corpus size.
    """
    if workers <= 1:
        yield from study_entries(entries, settings)
        return
    for studies in _run_pool(_study_chunk, _chunks(entries, chunk_size), settings, workers):
        yield from studies


def study_parts(
    entries: Iterable[CorpusEntry],
    settings: StudySettings,
    model_dir: Path,
    *,
    workers: int = 1,
    part_files: int = PART_FILES,
) -> Iterator[StudiedPart]:
    """Study a stream of entries in parts of `part_files` files, in input order, on `workers` processes.

    Each part's file and stage tables are built, and its model recording saved
    as `model_dir/part-NNNNN` (see `write_part`), in the process that studied
    it, so the consumer only appends rows. Memory is bounded as in `study_corpus`.
    """
    tasks = ((index, chunk, model_dir) for index, chunk in enumerate(_chunks(entries, part_files)))
    if workers <= 1:
        with Study(settings) as study:
            for index, chunk, directory in tasks:
                yield _write_chunk(study, index, chunk, directory)
        return
    yield from _run_pool(_study_part, tasks, settings, workers)


def _chunks(entries: Iterable[CorpusEntry], size: int) -> Iterator[Chunk]:
    """Read `entries` into chunks of `size` (id, bytes) pairs, the last one possibly shorter."""
    chunk: Chunk = []
    for entry in entries:
        chunk.append((entry.id, entry.read_bytes()))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _run_pool(
    function: Callable[[Item], Result], tasks: Iterable[Item], settings: StudySettings | None, workers: int,
) -> Iterator[Result]:
    """Map `function` over `tasks` on `workers` processes that each keep one Study; see `map_in_order`."""
    # forkserver: a fork of this process could copy locks held by other threads.
    context = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
    executor = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(settings or StudySettings(),),
    )
    try:
        yield from map_in_order(function, tasks, executor=executor, window=2 * workers)
    except BaseException:
        # Also on GeneratorExit: no worker may still write a part once the caller moves on.
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


# Each worker process keeps one Study for its lifetime.
_WORKER_STUDY: Study | None = None


def _init_worker(settings: StudySettings) -> None:
    global _WORKER_STUDY
    # Ctrl-C reaches every process of the terminal's process group; the parent
    # alone decides to stop, so the workers print no traceback of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_STUDY = Study(settings)
    # A worker process ends through multiprocessing, which runs no atexit hook
    # (so no TemporaryDirectory cleanup) but does run these finalizers.
    multiprocessing.util.Finalize(_WORKER_STUDY, _WORKER_STUDY.close, exitpriority=0)


def _study_chunk(chunk: Chunk) -> list[FileStudy]:
    assert _WORKER_STUDY is not None
    return [study_entry(_WORKER_STUDY, dockerfile_id, data) for dockerfile_id, data in chunk]


def _study_part(task: tuple[int, Chunk, Path]) -> StudiedPart:
    assert _WORKER_STUDY is not None
    index, chunk, model_dir = task
    return _write_chunk(_WORKER_STUDY, index, chunk, model_dir)


def _write_chunk(study: Study, index: int, chunk: Chunk, model_dir: Path) -> StudiedPart:
    studies = [study_entry(study, dockerfile_id, data) for dockerfile_id, data in chunk]
    return write_part(studies, model_dir, index)
