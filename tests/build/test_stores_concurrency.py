"""Checks of a cache location while other builds create the same directories."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from cachelab.build.stores import check_cache_location, directory_write_problem

# Fresh cache homes per worker run; every worker checks and fills each one at
# once, as builds started together on an empty cache directory do.
HOMES = 60
WORKERS = 6


def _check_and_fill(root: str, worker: int, start: multiprocessing.synchronize.Barrier,
                    problems: multiprocessing.queues.Queue) -> None:  # type: ignore[type-arg]
    start.wait(60)
    for number in range(HOMES):
        home = Path(root) / f"home-{number}"
        problem = directory_write_problem(home / "layer-cache")
        if problem is not None:
            problems.put(f"worker {worker}, {home}: {problem}")
        # What a build does next: create its stores under the same home.
        blobs = home / "images" / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)
        (blobs / f"worker-{worker}").write_bytes(b"blob")


def test_concurrent_checks_and_builds(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    start = context.Barrier(WORKERS)
    problems = context.Queue()
    workers = [
        context.Process(target=_check_and_fill, args=(str(tmp_path), n, start, problems)) for n in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)

    assert [worker.exitcode for worker in workers] == [0] * WORKERS
    found = []
    while not problems.empty():
        found.append(problems.get())
    assert found == []
    for number in range(HOMES):
        blobs = tmp_path / f"home-{number}" / "images" / "blobs" / "sha256"
        assert sorted(path.name for path in blobs.iterdir()) == [f"worker-{n}" for n in range(WORKERS)]


def test_check_of_missing_path_leaves_nothing(tmp_path: Path) -> None:
    assert directory_write_problem(tmp_path / "home" / "layer-cache") is None
    check_cache_location(f"oci:{tmp_path / 'kaniko' / 'cache'}")

    assert list(tmp_path.iterdir()) == []


def test_check_of_existing_directory_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()

    assert directory_write_problem(tmp_path / "home") is None
    assert directory_write_problem(tmp_path / "home" / "layer-cache") is None

    assert [path.name for path in tmp_path.iterdir()] == ["home"]
    assert list((tmp_path / "home").iterdir()) == []


def test_check_under_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")

    problem = directory_write_problem(tmp_path / "file" / "cache")

    assert problem == f"cannot be created, because {tmp_path / 'file'} is not a directory"


def test_check_in_read_only_parent(tmp_path: Path) -> None:
    problem = directory_write_problem(Path("/proc/cachelab-no-such-entry/cache"))

    assert problem is not None
    assert problem.startswith("is not writable: cannot create directory /proc/cachelab-no-such-entry (")
