"""`cachelab build` killed with SIGKILL at seeded random moments.

After every kill, `cachelab store check` must pass on the cache, image and
output stores, no process of the build may survive, and the next build must
succeed and hit every cache entry that was complete before it started.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cachelab.build.builder import build
from cachelab.build.request import BuildRequest
from cachelab.cli import main as cachelab_main
from cachelab.events import InstructionRecorded, ListSink
from cachelab.oci.layout import LayoutStore
from tests.reliability.processes import wait_for_no_leftovers
from tests.reliability.tally import TALLY

pytestmark = pytest.mark.sandbox

SEED = 20261204
DEFAULT_TRIALS = 5
SLOW_TRIALS = 60
# Each kill comes after a seeded random fraction of the time an uninterrupted
# build of a new seed took. That time is measured again every CALIBRATE_EVERY trials.
CALIBRATE_EVERY = 10
SLEEPER = "cachelab-interrupt-sleeper"

DOCKERFILE = f"""\
FROM busybox AS gen
COPY seed.txt /seed.txt
RUN head -c 4000000 /dev/urandom > /blob && cat /seed.txt >> /blob
RUN sh -c 'sleep 0.3; true' {SLEEPER} && sha256sum /blob > /blob.sha

FROM busybox
COPY --from=gen /blob.sha /blob.sha
COPY seed.txt /seed.txt
RUN cat /seed.txt /blob.sha > /out.txt
"""


@dataclass
class Tally:
    """What a series of trials did, for the assertions and the reliability page."""

    trials: int = 0
    killed_running: int = 0
    finished_before_kill: int = 0
    complete_entries_reused: int = 0
    hits: int = 0
    leftovers: list[str] = field(default_factory=list)


@dataclass
class Workspace:
    """A build's directories; `kaniko_layout` selects kaniko's `oci:DIR` cache, one layout per key."""

    root: Path
    kaniko_layout: bool = False

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def output(self) -> Path:
        return self.root / "out"

    @property
    def context(self) -> Path:
        return self.root / "context"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"

    @property
    def cache_location(self) -> str:
        return f"oci:{self.cache}" if self.kaniko_layout else str(self.cache)

    def stores(self) -> list[Path]:
        """Return every layout store the build writes: cache stores, image store and output."""
        if self.kaniko_layout:
            caches = sorted(self.root.glob(f"{self.cache.name}:*"))
        else:
            caches = [self.cache]
        return [*caches, self.images, self.output]

    def complete_keys(self) -> set[str]:
        """Return the cache keys whose entries are complete: tagged, or renamed into place."""
        if self.kaniko_layout:
            return {path.name.partition(":")[2] for path in self.root.glob(f"{self.cache.name}:*")}
        store = LayoutStore(self.cache)
        return set(store.tags()) if store.exists() else set()

    def prepare(self) -> None:
        self.context.mkdir(parents=True)
        self.scratch.mkdir()
        (self.root / "Dockerfile").write_text(DOCKERFILE)

    def command(self, strategy: str) -> list[str]:
        return [
            sys.executable, "-m", "cachelab", "build", str(self.root / "Dockerfile"),
            "--context", str(self.context), "--strategy", strategy, "--quiet",
            "--cache-repo", self.cache_location, "--image-store", str(self.images),
            "--destination", f"oci:{self.output}:image",
        ]


def store_check(path: Path) -> int:
    if not LayoutStore(path).exists():
        return 0  # killed before the store was created
    return cachelab_main(["store", "check", str(path)])


def calibrate(workspace: Workspace, label: str) -> float:
    """Return the seconds an uninterrupted `cachelab build` of a new seed takes."""
    (workspace.context / "seed.txt").write_text(f"calibration {label}\n")
    environment = {**os.environ, "TMPDIR": str(workspace.scratch)}
    started = time.monotonic()
    subprocess.run(workspace.command("per-stage"), env=environment, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def run_trial(workspace: Workspace, rng: random.Random, tally: Tally, build_time: float) -> None:
    strategy = rng.choice(["per-stage", "lookahead"])
    # Eight seed values: most trials build something new, and some reuse older entries.
    (workspace.context / "seed.txt").write_text(f"seed {rng.randrange(8)}\n")
    delay = rng.random() * build_time

    environment = {**os.environ, "TMPDIR": str(workspace.scratch)}
    process = subprocess.Popen(workspace.command(strategy), env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        process.wait(timeout=delay)
        tally.finished_before_kill += 1
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        tally.killed_running += 1
    if process.stderr is not None:
        process.stderr.close()
    tally.trials += 1

    leftovers = wait_for_no_leftovers([SLEEPER, str(workspace.root)])
    tally.leftovers.extend(leftovers)
    assert leftovers == []
    for store in workspace.stores():
        assert store_check(store) == 0, f"store check failed on {store} after a kill at {delay:.2f} s"

    complete = workspace.complete_keys()
    sink = ListSink()
    request = BuildRequest(
        workspace.root / "Dockerfile", workspace.context, strategy=strategy, cache=workspace.cache_location,
        destination=f"oci:{workspace.output}:image", image_store=str(workspace.images), work_dir=workspace.scratch,
    )
    result = build(request, sink=sink, progress=False)
    assert result.image_digest is not None

    for event in sink.events:
        if not isinstance(event, InstructionRecorded) or not event.probed:
            continue
        if event.cache_key in complete:
            tally.complete_entries_reused += 1
            # Lookahead skips a stage no later step needs; that is reuse too.
            assert event.decision in ("hit", "skipped"), (
                f"{event.instruction} (key {event.cache_key}) was complete in the cache but decided {event.decision}"
            )
        if event.decision == "hit":
            tally.hits += 1
    for store in workspace.stores():
        assert store_check(store) == 0


def run_trials(root: Path, count: int, seed: int, *, kaniko_layout: bool = False) -> Tally:
    workspace = Workspace(root, kaniko_layout)
    workspace.prepare()
    rng = random.Random(seed)
    tally = Tally()
    build_time = 0.0
    for trial in range(count):
        if trial % CALIBRATE_EVERY == 0:
            build_time = calibrate(workspace, str(trial))
        run_trial(workspace, rng, tally, build_time)
    TALLY["build kill trials"] += tally.trials
    TALLY["build kill trials: killed while running"] += tally.killed_running
    TALLY["build kill trials: complete entries reused"] += tally.complete_entries_reused
    TALLY["build kill trials: processes left behind"] += len(tally.leftovers)
    return tally


def test_kill_build_few_trials(tmp_path: Path) -> None:
    tally = run_trials(tmp_path, DEFAULT_TRIALS, SEED)

    assert tally.trials == DEFAULT_TRIALS
    assert tally.killed_running >= 1
    assert tally.leftovers == []


def test_kill_build_kaniko_layout_cache(tmp_path: Path) -> None:
    tally = run_trials(tmp_path, 3, SEED + 2, kaniko_layout=True)

    assert tally.trials == 3
    assert tally.leftovers == []


@pytest.mark.slow
def test_kill_build_many_trials(tmp_path: Path) -> None:
    tally = run_trials(tmp_path, SLOW_TRIALS, SEED + 1)

    assert tally.trials == SLOW_TRIALS
    # How many kills land while the build runs depends on the machine's speed.
    assert tally.killed_running >= 1
    assert tally.complete_entries_reused >= 1
    assert tally.leftovers == []
