"""`cachelab ingest`: turn another engine's output into the record tables."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cachelab.cli.build import check_record_directory, recording_files
from cachelab.cli.regress import step_number

if TYPE_CHECKING:
    from cachelab.record import Recording

ENGINES = ("kaniko-trace", "kaniko-log", "kaniko-benchmark", "buildkit")
# Name prefix of the directory inside --out that contains the new tables until they are written.
STAGING_PREFIX = ".cachelab-ingest-"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="read kaniko traces, logs or benchmark files, or BuildKit progress, into tables",
        description=(
            "Read the output of real builds and write the builds, stages, instructions "
            "and spans tables as Parquet files into DIR, next to cachelab's own recordings. "
            "kaniko-trace reads OTLP/HTTP trace exports (JSON or protobuf), kaniko-log "
            "reads kaniko's log in any --log-format (its wall_s has the log's time resolution, "
            "whole seconds by default, and is NA when the first and last lines fall within "
            "one second), kaniko-benchmark reads the "
            "BENCHMARK_FILE of kaniko up to v1.28.2, buildkit reads --progress=rawjson output. "
            "kaniko-trace reads the spans of all FILEs together: a span that occurs again with "
            "the same trace id and span id (an exporter resends an export after a timeout, or "
            "two files contain the same build) counts once, with a warning. A traced build that "
            "cannot be read is reported in a warning and left out, and the other builds are "
            "written. The command fails when no build is left."
        ),
    )
    parser.add_argument("engine", choices=ENGINES, metavar="ENGINE", help=f"format of FILE: {', '.join(ENGINES)}")
    parser.add_argument("files", nargs="+", metavar="FILE", help="files to read (each kaniko log is one build)")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory to write the Parquet tables into")
    parser.add_argument(
        "--force", action="store_true",
        help="replace a recording that DIR already contains, once the new tables are written "
             "(without it, such a DIR is rejected)",
    )
    parser.add_argument(
        "--dockerfile-id", metavar="ID",
        help="dockerfile_id to record with every build, which `cachelab regress` groups builds by "
             "(default: NA for kaniko-log, kaniko-benchmark and buildkit, and for kaniko-trace the "
             "Dockerfile's path inside the kaniko container, often /kaniko/Dockerfile)",
    )
    parser.add_argument(
        "--log", action="append", default=[], dest="logs", metavar="LOG",
        help="kaniko-trace only: the log of the same build, once per FILE in order. "
             "It adds bases and eliminated or squashed stages",
    )
    parser.add_argument(
        "--dockerfile", metavar="DOCKERFILE",
        help="buildkit only: the Dockerfile the builds were made from, which gives named stages "
             "their written position (stage_index and origin_stage_index)",
    )
    parser.add_argument("--run-id", default="ingest", help="run_id of the ingested builds (default: ingest)")
    parser.add_argument(
        "--scenario", metavar="NAME",
        help="scenario name to record with every build, as `cachelab build --scenario` does (default: none)",
    )
    parser.add_argument(
        "--step", type=step_number, default=None, metavar="N",
        help="position of every build in its scenario to record: 0 for cold builds, 1 and up for "
        "rebuilds on their cache. `cachelab regress` compares each step on its own, so ingest the "
        "files of each step separately (default: none, and builds without a step share one group)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cachelab.ingest.errors import IngestError

    if args.logs and args.engine != "kaniko-trace":
        raise IngestError("--log applies to kaniko-trace only", hint="Ingest the log as kaniko-log instead.")
    if args.dockerfile and args.engine != "buildkit":
        raise IngestError("--dockerfile applies to buildkit only",
                          hint="Leave --dockerfile out for kaniko ingests.")
    if args.dockerfile_id is not None and not args.dockerfile_id.strip():
        raise IngestError("--dockerfile-id is empty",
                          hint="Pass a name for the Dockerfile, such as its path in your repository.")
    dockerfiles = [args.dockerfile] if args.dockerfile else []
    missing = [name for name in [*args.files, *args.logs, *dockerfiles] if not Path(name).is_file()]
    if missing:
        raise IngestError(f"file not found: {missing[0]}", hint="Check the path of every FILE, --log and --dockerfile.")

    out = Path(args.out)
    check_record_directory(out, force=args.force, option="--out")
    recording = _read(args)
    if args.dockerfile_id is not None:
        recording.builds["dockerfile_id"] = args.dockerfile_id
        recording.builds["dockerfile_id"] = recording.builds["dockerfile_id"].astype("string")
    _save(recording, out)
    print(
        f"wrote {len(recording.builds)} builds, {len(recording.stages)} stages, "
        f"{len(recording.instructions)} instructions and {len(recording.spans)} spans to {args.out}"
    )
    return 0


def _save(recording: Recording, out: Path) -> None:
    # The tables go to a staging directory inside OUT first, so an earlier
    # recording that --force replaces stays whole until the new one is written.
    from cachelab.cli._staging import replace_outputs, staging_directory

    with staging_directory(out, prefix=STAGING_PREFIX) as staging:
        recording.save(staging)
        replace_outputs(recording_files(staging), out, earlier=recording_files(out))


def _read(args: argparse.Namespace) -> Recording:
    options = {"run_id": args.run_id, "scenario": args.scenario, "step": args.step}
    if args.engine == "kaniko-trace":
        from cachelab.ingest.kaniko import ingest_kaniko_traces

        return ingest_kaniko_traces(args.files, logs=args.logs, **options)
    if args.engine == "kaniko-log":
        from cachelab.ingest.kaniko import ingest_kaniko_logs

        return ingest_kaniko_logs(args.files, **options)
    if args.engine == "kaniko-benchmark":
        from cachelab.ingest.kaniko import ingest_kaniko_benchmarks

        return ingest_kaniko_benchmarks(args.files, **options)
    from cachelab.ingest.buildkit import ingest_buildkit_progress

    return ingest_buildkit_progress(args.files, dockerfile=args.dockerfile, **options)
