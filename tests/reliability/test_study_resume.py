"""A study matrix killed with SIGKILL in a subprocess resumes without redoing finished cells."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cachelab.build.builder import build
from cachelab.study.matrix import CELL_FILE, CELLS_DIR, STUDY_FILE, study
from tests.fixtures.paths import REPO_ROOT
from tests.reliability.tally import TALLY

pytestmark = pytest.mark.sandbox

EXAMPLE = REPO_ROOT / "datasets" / "examples" / "two-stage"
STRATEGIES = ["no-cache", "per-stage", "lookahead"]
BUILDS_PER_CELL = 2  # the warm-unchanged scenario builds cold, then warm
CELL_WAIT = 120.0  # seconds a study subprocess may take to finish its first cell
SEED = 1204

# Run in the subprocess: the same study the test resumes, with its arguments as JSON.
STUDY_SCRIPT = """
import json, sys
from cachelab.study.matrix import study
arguments = json.loads(sys.argv[1])
study([arguments["example"]], ["warm-unchanged"], arguments["strategies"], 1,
      out_dir=arguments["out"], image_store=arguments["images"], work_dir=arguments["work"], progress=False)
"""


class CountingBuilder:
    """The real builder, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: Any, **options: Any) -> Any:
        self.calls += 1
        return build(request, **options)


def start_study(out: Path, images: Path, work: Path) -> subprocess.Popen[bytes]:
    arguments = {"example": str(EXAMPLE), "strategies": STRATEGIES, "out": str(out), "images": str(images),
                 "work": str(work)}
    environment = {**os.environ, "TMPDIR": str(work)}
    return subprocess.Popen([sys.executable, "-c", STUDY_SCRIPT, json.dumps(arguments)], env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finished_cells(out: Path) -> dict[str, bytes]:
    """Map each finished cell's id to its cell.json bytes."""
    cells = out / CELLS_DIR
    if not cells.is_dir():
        return {}
    return {path.parent.name: path.read_bytes() for path in cells.glob(f"*/{CELL_FILE}")}


def kill_after(process: subprocess.Popen[bytes], out: Path, *, cells: int, extra_delay: float) -> dict[str, bytes]:
    """Kill the study once `cells` cells are finished and `extra_delay` seconds passed."""
    deadline = time.monotonic() + CELL_WAIT
    while len(finished_cells(out)) < cells and process.poll() is None:
        assert time.monotonic() < deadline, f"no {cells} finished cells within {CELL_WAIT} s"
        time.sleep(0.05)
    time.sleep(extra_delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    TALLY["study kill trials"] += 1
    return finished_cells(out)


def resume_and_check(out: Path, images: Path, work: Path, before: dict[str, bytes]) -> int:
    """Resume the study in this process; return how many builds the resume ran."""
    counting = CountingBuilder()
    recording = study([EXAMPLE], ["warm-unchanged"], STRATEGIES, 1, out_dir=out, image_store=str(images),
                      work_dir=work, progress=False, builder=counting)

    after = finished_cells(out)
    assert len(after) == len(STRATEGIES)
    for cell_id, status in before.items():
        assert after[cell_id] == status, f"finished cell {cell_id} was run again"
    assert counting.calls == BUILDS_PER_CELL * (len(STRATEGIES) - len(before))
    TALLY["study kill trials: finished cells kept"] += len(before)

    builds = recording.builds
    assert len(builds) == BUILDS_PER_CELL * len(STRATEGIES)
    assert (builds["outcome"] == "ok").all()
    assert builds["run_id"].nunique() == 1
    assert sorted(builds["strategy"].unique()) == sorted(STRATEGIES)
    return counting.calls


def test_study_killed_after_first_cell_resumes(image_store: Path, tmp_path: Path) -> None:
    out, work = tmp_path / "study", tmp_path / "work"
    work.mkdir()
    process = start_study(out, image_store, work)

    before = kill_after(process, out, cells=1, extra_delay=0.0)

    assert 1 <= len(before) < len(STRATEGIES)
    assert json.loads((out / STUDY_FILE).read_text())["run_id"].startswith("study-")
    resume_and_check(out, image_store, work, before)


@pytest.mark.slow
def test_study_killed_at_random_moments_resumes(image_store: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    for trial in range(6):
        out, work = tmp_path / f"study-{trial}", tmp_path / f"work-{trial}"
        work.mkdir()
        process = start_study(out, image_store, work)

        before = kill_after(process, out, cells=rng.choice([0, 1, 2]), extra_delay=rng.uniform(0.0, 2.5))

        resume_and_check(out, image_store, work, before)
