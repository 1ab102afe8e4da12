#!/usr/bin/env python3
"""Time `cachelab build` against `buildah bud` on the example builds, as whole processes.

Run it as root from the repository root (pytest does not collect it):

    python3 tests/bench/bench_vs_buildah.py --runs 5

Workloads are datasets/examples/two-stage and three-stage. Modes, interleaved run
by run so drift on the machine affects them alike:

- cachelab `no-cache`; `per-stage` and `lookahead` cold (empty layer cache) and
  warm (unchanged rebuild on a cache filled by one untimed build);
- buildah `bud --layers --isolation chroot --storage-driver vfs` cold (storage
  with only the busybox base), warm (unchanged rebuild) and `--no-cache`.

Every build runs offline. cachelab's base image store and buildah's storage get
the same busybox image: cachelab imports the host's static busybox into an OCI
layout, and buildah pulls that layout with `buildah pull oci:DIR:TAG`. cachelab
only digests the image (no destination); buildah commits it to its storage.
The script prints a Markdown table of medians and ratios and can write the raw
samples as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "datasets" / "examples"
WORKLOADS = ("two-stage", "three-stage")
BUSYBOX_REFERENCE = "docker.io/library/busybox:latest"
# The cachelab this interpreter imports; set PYTHONPATH to time another checkout.
CACHELAB = [sys.executable, "-m", "cachelab"]


def bench_environment(scratch: Path) -> dict[str, str]:
    """The environment of every timed process.

    PYTHONDONTWRITEBYTECODE is dropped so that cachelab runs from cached bytecode,
    as an installed package does; with it set, every process recompiles about 250
    modules before it starts working.
    """
    environment = {**os.environ, "CACHELAB_CACHE_DIR": str(scratch / "cachelab-home"), "CI": "1"}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


@dataclass
class Mode:
    """One timed configuration: its name and how to prepare and run one sample."""

    name: str
    prepare: Callable[[Path], None]  # called once per sample, untimed
    run: Callable[[Path], None]  # the timed command


class Bench:
    """Scratch directories, the base images and the commands of one workload."""

    def __init__(self, workload: str, scratch: Path) -> None:
        self.workload = workload
        self.example = EXAMPLES / workload
        self.scratch = scratch / workload
        self.scratch.mkdir(parents=True)
        self.env = bench_environment(scratch)
        self.buildah_pristine = scratch / "buildah-pristine"

    # cachelab -----------------------------------------------------------------

    def cachelab(self, strategy: str, cache: Path) -> None:
        command = [
            *CACHELAB, "build", str(self.example),
            "--strategy", strategy,
            # A plain absolute directory is one layout store, so removing it empties
            # the cache. `oci:DIR` would put a layout per key beside DIR instead.
            "--cache-repo", str(cache),
            "--quiet",
        ]
        _run(command, env=self.env)

    def cachelab_cold(self, strategy: str) -> Mode:
        cache = self.scratch / f"cache-{strategy}-cold"

        def prepare(_: Path) -> None:
            shutil.rmtree(cache, ignore_errors=True)
            cache.mkdir()

        return Mode(f"cachelab {strategy} cold", prepare, lambda _: self.cachelab(strategy, cache))

    def cachelab_warm(self, strategy: str) -> Mode:
        cache = self.scratch / f"cache-{strategy}-warm"

        def prepare(_: Path) -> None:
            if not cache.exists():
                cache.mkdir()
                self.cachelab(strategy, cache)

        return Mode(f"cachelab {strategy} warm", prepare, lambda _: self.cachelab(strategy, cache))

    # buildah ------------------------------------------------------------------

    def buildah_args(self, root: Path) -> list[str]:
        return ["buildah", "--root", str(root / "root"), "--runroot", str(root / "runroot"),
                "--storage-driver", "vfs"]

    def buildah_bud(self, root: Path, *extra: str) -> None:
        command = [
            *self.buildah_args(root), "bud", "--layers", "--isolation", "chroot", "--pull-never",
            "--quiet", *extra, "-t", f"bench/{self.workload}:latest",
            "-f", str(self.example / "Dockerfile"), str(self.example / "context"),
        ]
        _run(command, env=self.env)

    def buildah_mode(self, name: str, *, warm: bool, extra: tuple[str, ...] = ()) -> Mode:
        root = self.scratch / f"buildah-{name}"

        def prepare(_: Path) -> None:
            if warm and root.exists():
                return
            _remove_storage(self, root)
            shutil.copytree(self.buildah_pristine, root, symlinks=True)
            if warm:
                self.buildah_bud(root)

        return Mode(f"buildah {name}", prepare, lambda _: self.buildah_bud(root, *extra))


def prepare_bases(scratch: Path, env: dict[str, str]) -> None:
    """Import busybox into cachelab's image store and a pristine buildah storage."""
    layout = scratch / "busybox-layout"
    _run([*CACHELAB, "image", "busybox", f"oci:{layout}:busybox"], env=env)
    # The first build imports busybox into cachelab's image store, so no timed one does.
    _run([*CACHELAB, "build", str(EXAMPLES / "two-stage"), "--strategy", "no-cache", "--quiet"], env=env)
    root = scratch / "buildah-pristine"
    buildah = ["buildah", "--root", str(root / "root"), "--runroot", str(root / "runroot"),
               "--storage-driver", "vfs"]
    _run([*buildah, "pull", "--quiet", f"oci:{layout}:busybox"], env=env)
    image_id = subprocess.run([*buildah, "images", "-q"], env=env, check=True,
                              capture_output=True, text=True).stdout.split()[0]
    _run([*buildah, "tag", image_id, BUSYBOX_REFERENCE], env=env)


def _remove_storage(bench: Bench, root: Path) -> None:
    if root.exists():
        # vfs layers are plain directories, but buildah may hold mounts under runroot.
        subprocess.run([*bench.buildah_args(root), "rm", "--all"], env=bench.env,
                       capture_output=True, check=False)
        shutil.rmtree(root)


def _run(command: list[str], *, env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(command)}")


def modes_of(bench: Bench) -> list[Mode]:
    return [
        bench.cachelab_cold("no-cache"),
        bench.cachelab_cold("per-stage"),
        bench.cachelab_cold("lookahead"),
        bench.cachelab_warm("per-stage"),
        bench.cachelab_warm("lookahead"),
        bench.buildah_mode("cold", warm=False),
        bench.buildah_mode("warm", warm=True),
        bench.buildah_mode("no-cache", warm=False, extra=("--no-cache",)),
    ]


def measure(workloads: list[str], runs: int, scratch: Path) -> dict[str, dict[str, list[float]]]:
    """Return the samples in seconds by workload and mode name."""
    env = bench_environment(scratch)
    prepare_bases(scratch, env)
    samples: dict[str, dict[str, list[float]]] = {}
    for workload in workloads:
        bench = Bench(workload, scratch)
        modes = modes_of(bench)
        samples[workload] = {mode.name: [] for mode in modes}
        for run in range(runs):
            for mode in modes:
                mode.prepare(scratch)
                started = time.perf_counter()
                mode.run(scratch)
                seconds = time.perf_counter() - started
                samples[workload][mode.name].append(seconds)
                print(f"{workload} run {run + 1}/{runs} {mode.name}: {seconds:.3f} s", file=sys.stderr)
    return samples


def render(samples: dict[str, dict[str, list[float]]]) -> str:
    """Return Markdown tables of the medians and of the ratios the goals name."""
    lines = ["| workload | mode | median (s) | min (s) | max (s) | runs |", "|---|---|---|---|---|---|"]
    for workload, modes in samples.items():
        for name, values in modes.items():
            lines.append(
                f"| {workload} | {name} | {statistics.median(values):.3f} | {min(values):.3f} "
                f"| {max(values):.3f} | {len(values)} |"
            )
    lines += ["", "| workload | ratio of medians | value |", "|---|---|---|"]
    pairs = (
        ("cachelab no-cache cold", "buildah no-cache"),
        ("cachelab per-stage cold", "buildah cold"),
        ("cachelab lookahead cold", "buildah cold"),
        ("cachelab per-stage warm", "buildah warm"),
        ("cachelab lookahead warm", "buildah warm"),
        ("cachelab lookahead warm", "cachelab per-stage warm"),
    )
    for workload, modes in samples.items():
        for numerator, denominator in pairs:
            ratio = statistics.median(modes[numerator]) / statistics.median(modes[denominator])
            lines.append(f"| {workload} | {numerator} / {denominator} | {ratio:.3f} |")
    return "\n".join(lines)


def describe_machine() -> str:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    buildah = subprocess.run(["buildah", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    cachelab = subprocess.run([*CACHELAB, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return (
        f"nproc {os.cpu_count()}, CPU {cpu}, kernel {platform.release()}, "
        f"Python {platform.python_version()}, {cachelab}, {buildah}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per mode (default: %(default)s)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="comma-separated examples (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the raw samples to this JSON file")
    parser.add_argument("--scratch", type=Path, help="parent of the scratch directory, a path of lower-case letters, digits, /, -, _ and . (default: the system temporary directory)")
    args = parser.parse_args(argv)
    if shutil.which("buildah") is None:
        raise SystemExit("buildah not found; install Debian's buildah package")

    # buildah names an image pulled from `oci:DIR` after DIR, and a reference path
    # allows only lower-case letters, digits and single separators, so the
    # scratch directory gets such a name instead of a random tempfile one.
    parent = (args.scratch or Path(tempfile.gettempdir())).resolve()
    scratch = parent / f"cachelab-bench-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    try:
        samples = measure(args.workloads.split(","), args.runs, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(describe_machine())
    print()
    print(render(samples))
    if args.json:
        args.json.write_text(json.dumps({"machine": describe_machine(), "samples": samples}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
