"""`study`: a matrix of Dockerfiles x scenarios x strategies x repeats that can resume.

Each cell is one scenario run of one Dockerfile, strategy and repeat. A finished
cell's recording is written to `out_dir/cells/<cell id>/` by renaming a complete
temporary directory, so a cell directory either contains all four tables or
does not exist. Running the same study again skips the cells already there, which
resumes an interrupted study without redoing finished builds. A cell whose
build failed is finished too: its builds carry outcome "error" and `cell.json`
the message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from cachelab.events import ListSink
from cachelab.record import Recording, concat
from cachelab.study.errors import StudyError
from cachelab.study.preflight import check_scenario
from cachelab.study.runner import (
    BUILD_FAILURES,
    DEFAULT_STRATEGIES,
    BuildFunction,
    BuildSettings,
    ScenarioRun,
    check_strategies,
    run_scenario,
)
from cachelab.study.scenario import WARM_UNCHANGED, Scenario, resolve_scenario
from cachelab.study.stability import add_stability, scenario_map
from cachelab.study.workspace import BuildInput, resolve_input

logger = logging.getLogger(__name__)

CELLS_DIR = "cells"
CELL_FILE = "cell.json"
STUDY_FILE = "study.json"


@dataclass(frozen=True)
class Cell:
    """One scenario run of the matrix and the directory its recording goes to."""

    run: ScenarioRun
    cell_id: str


def study(
    dockerfiles: Iterable[str | Path],
    scenarios: Sequence[str | Scenario] = (WARM_UNCHANGED,),
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    repeats: int = 1,
    *,
    out_dir: str | Path | None = None,
    image_store: str | None = None,
    build_args: Mapping[str, str] | None = None,
    targets: Sequence[str] = (),
    work_dir: str | Path | None = None,
    progress: bool = True,
    builder: BuildFunction | None = None,
) -> Recording:
    """Run every cell of the matrix not yet in `out_dir` and return all cells' recording.

    `dockerfiles` are Dockerfiles (context: their directory) or example
    directories. Scenario names are resolved per Dockerfile, so a scenario file
    beside each one can define its own. Cells run Dockerfile by Dockerfile,
    scenario by scenario, repeat by repeat, with the strategies interleaved
    within each repeat. `build_args` and `targets` apply to every build until a
    scenario step changes them. The run_id is kept in `out_dir/study.json`, so
    resumed builds share it. The combined recording, with the key stability and
    transparency columns of `cachelab.study.stability`, is also saved to
    `out_dir`. Without `out_dir` the cells go to a temporary directory that is
    removed afterwards, so nothing can resume. Every scenario is checked against
    every Dockerfile's context before the first build, so an invalid mutation
    raises `MutationError` instead of failing cells.
    """
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="cachelab-study-out-", dir=work_dir) as scratch:
            return study(
                dockerfiles, scenarios, strategies, repeats, out_dir=scratch, image_store=image_store,
                build_args=build_args, targets=targets, work_dir=work_dir, progress=progress, builder=builder,
            )
    strategy_list = check_strategies(strategies)
    if repeats < 1:
        raise StudyError(f"repeats is {repeats}, must be at least 1", hint="Pass repeats=1 or more.")
    out = Path(out_dir)
    cells_dir = out / CELLS_DIR
    cells_dir.mkdir(parents=True, exist_ok=True)
    run_id = _study_run_id(out)
    sources = [resolve_input(path) for path in dockerfiles]
    settings = BuildSettings(
        image_store=image_store,
        build_args=tuple(sorted((build_args or {}).items())),
        targets=tuple(targets),
        builder=builder,
    )
    cells = list(_cells(sources, scenarios, strategy_list, repeats, run_id, settings))
    checked = {(cell.run.source, cell.run.scenario.name): cell.run for cell in cells}
    for run in checked.values():
        check_scenario(run.scenario, run.source, build_args=build_args, targets=targets, work_dir=work_dir)

    pending = [cell for cell in cells if not (cells_dir / cell.cell_id).is_dir()]
    logger.info("study %s: %d cells, %d already done", run_id, len(cells), len(cells) - len(pending))
    with tqdm(total=len(cells), initial=len(cells) - len(pending), disable=not progress, unit="cell") as bar:
        for cell in pending:
            bar.set_description(f"{cell.run.source.name} {cell.run.scenario.name} {cell.run.strategy}")
            _run_cell(cell, cells_dir, settings, work_dir)
            bar.update(1)

    recording = concat(Recording.load(cells_dir / cell.cell_id) for cell in cells)
    recording = add_stability(
        recording, scenario_map((cell.run.source.dockerfile_id, cell.run.scenario) for cell in cells),
    )
    recording.save(out)
    return recording


def cell_status(out_dir: str | Path) -> dict[str, dict[str, object]]:
    """Return the `cell.json` contents of every finished cell of a study, by cell id."""
    cells_dir = Path(out_dir) / CELLS_DIR
    found = {}
    for path in sorted(cells_dir.glob(f"*/{CELL_FILE}")):
        found[path.parent.name] = json.loads(path.read_text())
    return found


def _cells(
    sources: Sequence[BuildInput],
    scenarios: Sequence[str | Scenario],
    strategies: Sequence[str],
    repeats: int,
    run_id: str,
    settings: BuildSettings,
) -> Iterator[Cell]:
    for source in sources:
        for scenario in scenarios:
            resolved = resolve_scenario(scenario, dockerfile=source.dockerfile)
            for repeat in range(repeats):
                for strategy in strategies:
                    run = ScenarioRun(source, resolved, strategy, repeat, run_id)
                    yield Cell(run, _cell_id(run, settings))


def _cell_id(run: ScenarioRun, settings: BuildSettings) -> str:
    # Readable prefix, plus a digest of the full identity because two Dockerfiles
    # may share a directory name and scenario names may contain any character.
    # Build arguments and targets are part of it, so changing them reruns the cells.
    identity = json.dumps(
        [
            run.source.dockerfile_id,
            str(run.source.dockerfile),
            run.scenario.name,
            run.strategy,
            run.repeat,
            settings.build_args,
            settings.targets,
        ]
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{run.source.name}-{run.scenario.name}")
    return f"{readable.strip('-')}-{run.strategy}-r{run.repeat}-{digest}"


def _run_cell(cell: Cell, cells_dir: Path, settings: BuildSettings, work_dir: str | Path | None) -> None:
    sink = ListSink()
    status: dict[str, object] = {
        "dockerfile_id": cell.run.source.dockerfile_id,
        "scenario": cell.run.scenario.name,
        "strategy": cell.run.strategy,
        "repeat": cell.run.repeat,
        "outcome": "ok",
        "error": None,
    }
    with tempfile.TemporaryDirectory(prefix="cachelab-study-", dir=work_dir) as scratch:
        try:
            run_scenario(cell.run, settings, sink=sink, work_root=Path(scratch))
        except BUILD_FAILURES as exc:
            logger.error("cell %s failed: %s", cell.cell_id, exc)
            status.update(outcome="error", error=str(exc))

    partial = Path(tempfile.mkdtemp(prefix=f".{cell.cell_id}.", dir=cells_dir))
    try:
        Recording.from_events(sink.events).save(partial)
        (partial / CELL_FILE).write_text(json.dumps(status, indent=2) + "\n")
        os.replace(partial, cells_dir / cell.cell_id)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _study_run_id(out_dir: Path) -> str:
    path = out_dir / STUDY_FILE
    if path.is_file():
        return str(json.loads(path.read_text())["run_id"])
    run_id = f"study-{uuid.uuid4().hex[:12]}"
    # Written beside its final name and renamed, so a study killed here leaves no
    # empty study.json that the resumed run could not read.
    partial = path.with_name(f".{STUDY_FILE}.{os.getpid()}")
    partial.write_text(json.dumps({"run_id": run_id}, indent=2) + "\n")
    os.replace(partial, path)
    return run_id
