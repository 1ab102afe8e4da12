"""`compare`: one scenario under several strategies, repeats interleaved, with summaries.

For each repeat and strategy (strategy A repeat 0, B repeat 0, A repeat 1, ...,
so drift over time affects every strategy alike) the scenario runs in a fresh
copy of the context with a fresh layer cache. Base images come from one shared
local image store. The four record tables are saved as Parquet in `out_dir`,
with a timeline PNG per strategy of the last step.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cachelab.events import ListSink
from cachelab.record import Recording
from cachelab.stats import min_samples_for_verdict
from cachelab.study.errors import StudyError
from cachelab.study.figures import save_timelines
from cachelab.study.preflight import check_scenario
from cachelab.study.report import format_ratios, format_stage_table
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
from cachelab.study.stability import add_stability
from cachelab.study.summary import BASELINE_STRATEGY, stage_table, strategy_ratios
from cachelab.study.workspace import resolve_input

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


def compare(
    dockerfile: str | Path,
    context: str | Path | None = None,
    *,
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    scenario: str | Scenario = WARM_UNCHANGED,
    repeats: int = 1,
    out_dir: str | Path,
    image_store: str | None = None,
    build_args: Mapping[str, str] | None = None,
    targets: Sequence[str] = (),
    secrets: Mapping[str, Path] | None = None,
    run_id: str | None = None,
    work_dir: str | Path | None = None,
    report: TextIO | None = None,
    progress: bool = False,
    confidence: float = 0.95,
    seed: int = 0,
    builder: BuildFunction | None = None,
) -> Recording:
    """Run `scenario` under each of `strategies` `repeats` times and return the recording.

    `dockerfile` is a Dockerfile or an example directory with `Dockerfile` and
    `context/`. The recording, with the key stability columns of
    `cachelab.study.stability`, is saved to `out_dir` with
    `timeline-<strategy>.png` files. With `report`, the per-stage table and the wall-time ratios of the
    last step are written to it. `progress` prints one line per build on stderr.
    `secrets` maps secret ids to files that `RUN --mount=type=secret` binds.
    Every step of the scenario is checked against the user's context and
    Dockerfile before the first build (`cachelab.study.preflight`), so an invalid
    mutation raises `MutationError` without building anything.
    A build error propagates after the scratch copies are removed; nothing is
    saved then. `builder` replaces `cachelab.build.builder.build`.
    """
    source = resolve_input(dockerfile, context)
    chosen = resolve_scenario(scenario, dockerfile=source.dockerfile)
    strategy_list = check_strategies(strategies)
    if repeats < 1:
        raise StudyError(f"repeats is {repeats}, must be at least 1", hint="Pass --repeats 1 or more.")
    check_scenario(chosen, source, build_args=build_args, targets=targets, work_dir=work_dir)

    settings = BuildSettings(
        image_store=image_store,
        build_args=tuple(sorted((build_args or {}).items())),
        targets=tuple(targets),
        builder=builder,
        secrets=tuple(sorted((secrets or {}).items())),
    )
    run_id = run_id or f"compare-{uuid.uuid4().hex[:12]}"
    sink = ListSink()
    with tempfile.TemporaryDirectory(prefix="cachelab-compare-", dir=work_dir) as scratch:
        for repeat in range(repeats):
            for strategy in strategy_list:
                run = ScenarioRun(source, chosen, strategy, repeat, run_id)
                try:
                    run_scenario(
                        run,
                        settings,
                        sink=sink,
                        work_root=Path(scratch),
                        on_build=_print_build if progress else None,
                    )
                except BUILD_FAILURES:
                    # The builder receives only the work copy, so its error names the copy's paths.
                    logger.error(
                        "%s repeat %d built a copy of %s and %s under %s, which the error below names",
                        strategy, repeat, source.dockerfile, source.context, scratch,
                    )
                    raise

    recording = add_stability(Recording.from_events(sink.events), {chosen.name: chosen})
    write_outputs(recording, Path(out_dir), report=report, confidence=confidence, seed=seed)
    return recording


def write_outputs(
    recording: Recording,
    out_dir: Path,
    *,
    report: TextIO | None = None,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[Path]:
    """Save the tables and timelines to `out_dir`, write the report, return the paths."""
    recording.save(out_dir)
    written = [out_dir / f"{name}.parquet" for name in recording.tables()]
    written += save_timelines(recording, out_dir)
    if report is not None:
        write_report(recording, report, confidence=confidence, seed=seed)
        for path in written:
            report.write(f"wrote {path}\n")
    return written


def _why_no_ratio(builds: pd.DataFrame) -> str:
    # `strategy_ratios` returns no rows when fewer than two strategies ran or the baseline is missing.
    strategies = list(dict.fromkeys(builds["strategy"].dropna()))
    if len(strategies) < 2:
        return f"only one strategy ran ({', '.join(strategies) or 'none'}), and a ratio needs two"
    return f"ratios are relative to strategy {BASELINE_STRATEGY}, which was not run"


def write_report(
    recording: Recording, stream: TextIO, *, confidence: float = 0.95, seed: int = 0
) -> None:
    """Write the last step's per-stage table and the wall-time ratios to `stream`."""
    builds = recording.builds
    step = int(builds["step"].max())
    scenario = builds["scenario"].dropna().iloc[0] if builds["scenario"].notna().any() else "-"
    repeats = int(builds["repeat"].max()) + 1
    stream.write(f"{recording.builds['dockerfile_id'].iloc[0]}, scenario {scenario}, ")
    stream.write(f"step {step}, {repeats} repeat{'s' if repeats != 1 else ''}:\n")
    stream.write(format_stage_table(stage_table(recording, step=step)) + "\n\n")

    ratios = strategy_ratios(recording, step=step, confidence=confidence, seed=seed)
    if ratios.empty:
        stream.write(f"no ratio: {_why_no_ratio(builds[builds['step'] == step])}\n")
    else:
        stream.write(f"wall time at step {step} relative to {BASELINE_STRATEGY}")
        stream.write(
            f" ({confidence:.0%} bootstrap CI with 2 or more repeats, "
            f"a verdict with {min_samples_for_verdict(confidence)} or more):\n"
        )
        stream.write(format_ratios(ratios) + "\n")


def _print_build(run: ScenarioRun, step: int, seconds: float) -> None:
    label = run.scenario.steps[step].describe()
    print(
        f"{run.strategy} repeat {run.repeat} step {step} ({label}): {seconds:.2f} s",
        file=sys.stderr,
    )
