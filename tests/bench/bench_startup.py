#!/usr/bin/env python3
"""Time warm `cachelab build` processes, optionally against another checkout, run by run.

Run it from the repository root (pytest does not collect it):

    python3 tests/bench/bench_startup.py --runs 15
    python3 tests/bench/bench_startup.py --runs 15 --baseline /tmp/cachelab-head

A warm build is an unchanged rebuild on a layer cache filled by one untimed
build, so a lookahead build of the examples hits everything and its process
time is mostly interpreter start-up and imports. Each sample is one whole
`python -m cachelab build EXAMPLE --strategy S --cache-repo DIR --quiet`
process. The script reports its wall time and its CPU time (user plus system,
from the child's resource usage), which a busy machine inflates less.

`--baseline DIR` times the checkout at DIR as well, through PYTHONPATH set to
its `toolkit/` directory, interleaved with this checkout sample by sample, so
drift on the machine affects both alike. Each checkout gets its own caches,
and one untimed build per checkout writes its bytecode, because
PYTHONDONTWRITEBYTECODE is dropped from the environment as an installed
package would run. `python -c pass` and `python -S -c pass` are timed in the
same rounds: they are the interpreter's own floor, with and without the
`.pth` files of site-packages.

`--skip-pth` runs every cachelab process with `python -S` and site-packages
on PYTHONPATH instead, so no `.pth` file runs. That separates cachelab's
start-up from whatever the machine's `.pth` files import.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import site
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "datasets" / "examples"
WORKLOADS = ("two-stage", "three-stage")
STRATEGIES = ("lookahead", "per-stage")


@dataclass(frozen=True)
class Command:
    """One timed process: its row label, its argv and its PYTHONPATH (None: inherited)."""

    label: str
    argv: tuple[str, ...]
    pythonpath: str | None = None


@dataclass
class Sample:
    wall_s: float
    cpu_s: float


def timed_run(command: Command, env: dict[str, str]) -> Sample:
    """Run `command` once with stdout discarded; raise SystemExit when it fails."""
    run_env = dict(env)
    if command.pythonpath is not None:
        run_env["PYTHONPATH"] = command.pythonpath
    # stderr goes to a file, because a pipe read only after the child exits could fill and block it.
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command.argv, env=run_env, stdout=subprocess.DEVNULL, stderr=stderr)
        # wait4 returns the child's own resource usage, where Popen.wait would not.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            stderr.seek(0)
            sys.stderr.write(stderr.read().decode(errors="replace"))
            raise SystemExit(f"command failed ({code}): {' '.join(command.argv)}")
    return Sample(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime)


def build_commands(
    trees: dict[str, Path], workloads: list[str], strategies: list[str], scratch: Path, *, skip_pth: bool
) -> list[Command]:
    """Return the warm build of every workload, strategy and checkout, each with its own cache directory."""
    interpreter: tuple[str, ...] = (sys.executable, "-S") if skip_pth else (sys.executable,)
    extra_path = [*site.getsitepackages()] if skip_pth else []
    commands = []
    for workload in workloads:
        for strategy in strategies:
            for tree_name, tree in trees.items():
                cache = scratch / f"cache-{tree_name}-{workload}-{strategy}"
                cache.mkdir(parents=True)
                argv = (
                    *interpreter, "-m", "cachelab", "build", str(EXAMPLES / workload),
                    "--strategy", strategy, "--cache-repo", str(cache), "--quiet",
                )
                pythonpath = os.pathsep.join([str(tree / "toolkit"), *extra_path])
                commands.append(Command(f"{workload} {strategy} warm, {tree_name}", argv, pythonpath))
    return commands


def floor_commands() -> list[Command]:
    return [
        Command("python -c pass", (sys.executable, "-c", "pass")),
        Command("python -S -c pass", (sys.executable, "-S", "-c", "pass")),
    ]


def measure(commands: list[Command], runs: int, env: dict[str, str]) -> dict[str, list[Sample]]:
    """Run each command once untimed, then `runs` timed rounds over all of them in turn."""
    for command in commands:
        timed_run(command, env)
    samples: dict[str, list[Sample]] = {command.label: [] for command in commands}
    for run in range(runs):
        for command in commands:
            samples[command.label].append(timed_run(command, env))
        print(f"round {run + 1}/{runs} done", file=sys.stderr)
    return samples


def render(samples: dict[str, list[Sample]]) -> str:
    lines = [
        "| process | wall median (s) | wall min (s) | CPU median (s) | runs |",
        "|---|---|---|---|---|",
    ]
    for label, values in samples.items():
        walls = [sample.wall_s for sample in values]
        cpus = [sample.cpu_s for sample in values]
        lines.append(
            f"| {label} | {statistics.median(walls):.3f} | {min(walls):.3f} "
            f"| {statistics.median(cpus):.3f} | {len(values)} |"
        )
    return "\n".join(lines)


def render_ratios(samples: dict[str, list[Sample]], trees: dict[str, Path], workloads: list[str]) -> str:
    """Return the lookahead / per-stage ratio of wall medians per workload and checkout, when both were timed."""
    lines = ["| workload | checkout | lookahead / per-stage (wall medians) |", "|---|---|---|"]
    for workload in workloads:
        for tree_name in trees:
            lookahead = samples.get(f"{workload} lookahead warm, {tree_name}")
            per_stage = samples.get(f"{workload} per-stage warm, {tree_name}")
            if not lookahead or not per_stage:
                continue
            ratio = statistics.median(s.wall_s for s in lookahead) / statistics.median(s.wall_s for s in per_stage)
            lines.append(f"| {workload} | {tree_name} | {ratio:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed rounds (default: %(default)s)")
    parser.add_argument("--baseline", type=Path, help="another cachelab checkout to time in the same rounds")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated examples (default: %(default)s)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated strategies (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the raw samples to this JSON file")
    parser.add_argument("--skip-pth", action="store_true",
                        help="run cachelab with `python -S` and site-packages on PYTHONPATH, so no .pth file runs")
    args = parser.parse_args(argv)

    trees = {"this checkout": REPO_ROOT}
    if args.baseline is not None:
        if not (args.baseline / "toolkit" / "cachelab").is_dir():
            raise SystemExit(f"--baseline {args.baseline} has no toolkit/cachelab directory; pass a cachelab checkout")
        trees["baseline"] = args.baseline.resolve()
    workloads = args.workloads.split(",")

    scratch = Path(tempfile.mkdtemp(prefix="cachelab-startup-"))
    env = {**os.environ, "CACHELAB_CACHE_DIR": str(scratch / "cachelab-home"), "CI": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    load_before = os.getloadavg()
    try:
        commands = build_commands(trees, workloads, args.strategies.split(","), scratch, skip_pth=args.skip_pth)
        commands += floor_commands()
        samples = measure(commands, args.runs, env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_after = os.getloadavg()

    print(f"nproc {os.cpu_count()}, {sys.executable} (Python {sys.version.split()[0]}), "
          f"1-minute load average {load_before[0]:.2f} at the start and {load_after[0]:.2f} at the end"
          f"{', cachelab run with -S (no .pth files)' if args.skip_pth else ''}")
    for tree_name, tree in trees.items():
        commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=False).stdout.strip()
        print(f"{tree_name}: {tree} at commit {commit or 'unknown'}")
    print()
    print(render(samples))
    print()
    print(render_ratios(samples, trees, workloads))
    if args.json:
        raw = {label: [vars(sample) for sample in values] for label, values in samples.items()}
        args.json.write_text(json.dumps(raw, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
