"""`cachelab build`: build an image with kaniko's cache decisions and record what happened."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType

from cachelab.cli._arguments import non_empty
from cachelab.cli._secrets import add_secret_argument, secret_files
from cachelab.cli.regress import step_number

# 128 + SIGTERM, the status a shell reports for a process that SIGTERM ended.
# Ctrl-C (SIGINT) keeps the CLI's 130.
EXIT_TERMINATED = 128 + signal.SIGTERM
# The files `cachelab compare` writes beside a recording, one per strategy.
TIMELINE_GLOB = "timeline-*.png"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build an image from a Dockerfile with kaniko's cache semantics",
        description=(
            "Build FILE (a Dockerfile, or an example directory holding `Dockerfile` and "
            "`context/`) under a caching strategy. Base images come from the local image "
            "store first; busybox is imported from the host's static busybox when missing."
            " Registry timeouts and retries: see `cachelab image --help`. The output of RUN"
            " steps is logged on stderr as INFO lines starting with '|', which"
            " `cachelab -v build` shows. Without -v, only a failed RUN shows its last output lines."
        ),
    )
    parser.add_argument("dockerfile", metavar="FILE", help="a Dockerfile, or a directory with Dockerfile and context/")
    parser.add_argument("--context", metavar="DIR", help="the build context (default: FILE's context/ directory)")
    parser.add_argument(
        "--strategy", choices=("no-cache", "per-stage", "lookahead", "graph"), default="lookahead",
        help="caching strategy (default: lookahead)",
    )
    parser.add_argument(
        "--profile", default=None,
        help="kaniko option set: kaniko, kaniko-copy, kaniko-lookahead or no-cache "
        "(default: the strategy's: no-cache, kaniko-copy, kaniko-lookahead). A profile that "
        "contradicts --strategy is rejected: no-cache takes only no-cache, per-stage takes kaniko "
        "or kaniko-copy, and lookahead and graph take kaniko-lookahead. FF_KANIKO_* environment "
        "variables override the profile's feature flags, as they do for `cachelab plan`",
    )
    parser.add_argument(
        "--cache-repo", default=None, metavar="R",
        help="cache store: oci:DIR (one layout per key), a local directory, or a registry "
        "repository HOST[:PORT]/REPO whose HOST contains '.' or ':' or is localhost; any other "
        "value, such as NAME or TEAM/NAME, is a local directory, created when missing (default: "
        "the layout store in cachelab's cache directory); a local path must be writable, which "
        "is checked before the build starts",
    )
    parser.add_argument(
        "--destination", default=None, metavar="REF",
        help="where to write the image: oci:DIR:TAG or a registry reference (default: nowhere, digest only); "
        "a missing DIR is created, but its parent directory must exist",
    )
    parser.add_argument(
        "--target", action="append", default=[], metavar="STAGE",
        help="target stage; repeat or give a comma-separated list",
    )
    parser.add_argument(
        "--build-arg", action="append", default=[], metavar="K=V",
        help="a build argument; repeat for more. `--build-arg K` takes K from the environment",
    )
    add_secret_argument(parser)
    parser.add_argument("--platform", default=None, metavar="OS/ARCH", help="platform of the base images")
    parser.add_argument(
        "--image-store", default=None, metavar="DIR",
        help="local image store searched for bases first (default: images/ in cachelab's cache directory); "
        "a missing DIR is created, but its parent directory must exist",
    )
    parser.add_argument(
        "--insecure-registry", action="append", default=[], metavar="HOST",
        help="a registry to reach over plain HTTP (loopback registries always are)",
    )
    parser.add_argument(
        "--dry-run", action="store_true",
        help="print kaniko's dry-run plan, as `cachelab plan` does, and build nothing. With the "
        "kaniko-lookahead profile (the default, from --strategy lookahead) the plan has kaniko's own "
        "CACHE lines; other profiles add cachelab's decision per instruction as lines starting "
        "with '#'. Rejected together with --record, which needs a build",
    )
    parser.add_argument(
        "--record", type=non_empty, default=None, metavar="OUT",
        help="save the builds, stages, instructions and spans tables as Parquet files in directory OUT, "
        "which is created when missing; an OUT that is not writable, or already contains a recording "
        "and --force is not given, is rejected before the build starts",
    )
    parser.add_argument(
        "--scenario", type=non_empty, default=None, metavar="NAME",
        help="scenario name to record with the build, e.g. warm-unchanged, so that `cachelab regress` "
        "groups it with the other builds of NAME (default: none)",
    )
    parser.add_argument(
        "--step", type=step_number, default=None, metavar="N",
        help="position of the build in its scenario to record: 0 for the cold build, 1 and up for "
        "rebuilds on its cache. `cachelab regress` compares each step on its own (default: none, "
        "and builds without a step share one group)",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="with --record, replace the recording in OUT and remove the timeline-*.png files "
        "that `cachelab compare` wrote beside it",
    )
    parser.add_argument(
        "--quiet", action="store_true",
        help="print no progress lines (they are printed only when stderr is a terminal and CI is unset)",
    )
    parser.set_defaults(handler=run)


def dockerfile_of(file: str) -> Path:
    """Return FILE, or FILE/Dockerfile when FILE is an example directory."""
    path = Path(file)
    return path / "Dockerfile" if path.is_dir() else path


def resolve_inputs(file: str, context: str | None) -> tuple[Path, Path]:
    """Return the Dockerfile and context of FILE and --context (an example dir gives both)."""
    path = Path(file)
    if path.is_dir():
        return dockerfile_of(file), Path(context) if context else path / "context"
    if context is None:
        from cachelab.build.request import InvalidBuildRequest

        raise InvalidBuildRequest(
            f"no build context for {file}",
            hint="Pass --context DIR, or give an example directory holding Dockerfile and context/.",
        )
    return path, Path(context)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt so that a terminated build cleans up as on Ctrl-C."""


def run(args: argparse.Namespace) -> int:
    try:
        with _sigterm_as_interrupt(), secret_files(args.secret) as secrets:
            return _run(args, secrets)
    except Terminated:
        print("cachelab: terminated by SIGTERM", file=sys.stderr)
        return EXIT_TERMINATED


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Raise `Terminated` on SIGTERM, so a terminated build cleans up as Ctrl-C does.

    The cleanup removes the build's work directory and kills a running RUN's
    processes. Signal handlers can only be set in the main thread, so elsewhere
    SIGTERM keeps its default action.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Terminated(f"interrupted by {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, secrets: dict[str, Path]) -> int:
    from dataclasses import replace

    from cachelab.build.request import BuildRequest, check_environment_fits, dockerfile_id_of
    from cachelab.build.stores import check_cache_location
    from cachelab.cli.plan import build_options, check_platform, parse_build_args, parse_targets
    from cachelab.errors import CachelabError

    if args.record and args.dry_run:
        raise CachelabError(
            f"--record {args.record} has nothing to save, because --dry-run builds nothing",
            hint="Leave out --record for a dry run, or leave out --dry-run to build and record.",
        )
    dockerfile, context = resolve_inputs(args.dockerfile, args.context)
    if args.record:
        check_record_directory(Path(args.record), force=args.force)
    request = BuildRequest(
        dockerfile=dockerfile,
        context=context,
        strategy=args.strategy,
        profile=args.profile,
        build_args=parse_build_args(args.build_arg),
        targets=tuple(parse_targets(args.target)),
        cache=args.cache_repo,
        destination=args.destination,
        image_store=args.image_store,
        platform=check_platform(args.platform),
        insecure_registries=tuple(args.insecure_registry),
        secrets=secrets,
        dockerfile_id=dockerfile_id_of(args.dockerfile),
        scenario=args.scenario,
        step=args.step,
    )
    # The FF_KANIKO_* variables apply as in `cachelab plan`, so the plan predicts this build.
    request = replace(request, options=build_options(request.profile_name))
    check_environment_fits(request.strategy, request.kaniko_options())
    # Checked here as well as when the builder opens the cache, so a bad path
    # fails before the build starts and leaves no recording of a failed build.
    if request.kaniko_options().cache:
        check_cache_location(request.cache)
    if args.dry_run:
        from cachelab.build.builder import render_plan

        sys.stdout.write(render_plan(request))
        return 0

    from cachelab.build.builder import build
    from cachelab.events import ListSink
    from cachelab.keys.parts import bind_mount_warnings

    sink = ListSink()
    try:
        with bind_mount_warnings(args.dockerfile):
            result = build(request, sink=sink, progress=False if args.quiet else None)
    finally:
        # A failed or interrupted build is recorded too: its builds row has
        # outcome "error" and the error text.
        if args.record and sink.events:
            from cachelab.record import Recording

            if args.force:
                remove_recording(Path(args.record))
            Recording.from_events(sink.events).save(args.record)
    print(result.image_digest)
    warn_on_cache_failures(result.build_id, sink.events)
    return 0


def warn_on_cache_failures(build_id: str, events: Iterable[object]) -> None:
    """Print a warning on stderr when cache operations of the build failed.

    stdout stays the image digest alone, because scripts read it.
    """
    from cachelab.events import SpanRecorded
    from cachelab.events.failures import count_failed_operations

    failures = count_failed_operations(event for event in events if isinstance(event, SpanRecorded))
    if failures == 0:
        return
    operations = "operation" if failures == 1 else "operations"
    sys.stderr.write(
        f"cachelab: warning: {failures} cache {operations} failed in build {build_id}, "
        "which went on without them (the builds column cache_failures counts them)\n"
    )


def recording_files(directory: Path) -> list[Path]:
    """Return the table files of a recording in `directory`, and the timelines `cachelab compare` wrote with them."""
    from cachelab.record.schema import TABLES

    tables = [directory / f"{name}.parquet" for name in TABLES if (directory / f"{name}.parquet").exists()]
    if not tables:
        return []
    return tables + sorted(directory.glob(TIMELINE_GLOB))


def check_record_directory(directory: Path, *, force: bool, option: str = "--record") -> None:
    """Raise CachelabError when `option` names a file or a path that is not writable.

    A directory that already contains a recording is rejected too, unless `force` is on.
    """
    from cachelab.build.stores import directory_write_problem
    from cachelab.errors import CachelabError

    if directory.exists() and not directory.is_dir():
        raise CachelabError(f"{option} {directory} is not a directory",
                            hint="Pass the directory to save the tables in.")
    problem = directory_write_problem(directory)
    if problem is not None:
        raise CachelabError(f"{option} {directory} {problem}",
                            hint="Pass a writable directory, or a new directory inside a writable one.")
    if force or not directory.is_dir():
        return
    found = recording_files(directory)
    if found:
        names = ", ".join(path.name for path in found)
        raise CachelabError(
            f"{option} {directory} already contains a recording ({names})",
            hint="Pass a new directory, or add --force to replace that recording.",
        )


def remove_recording(directory: Path) -> None:
    """Delete an earlier recording in `directory` and its timelines, so none of them is left beside the new one."""
    for path in recording_files(directory):
        path.unlink()
