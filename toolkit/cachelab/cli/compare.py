"""`cachelab compare FILE_OR_EXAMPLE_DIR`: one scenario under several strategies."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cachelab.cli._secrets import add_secret_argument, secret_files

DEFAULT_OUT_ROOT = "cachelab-out"
# Name prefix of the directory inside --out that contains a compare's outputs until every build succeeded.
STAGING_PREFIX = ".cachelab-compare-"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "compare",
        help="build a scenario under several strategies and compare stages and wall times",
        description=(
            "Run a scenario (a cold build, then changed rebuilds) under each strategy, with "
            "repeats interleaved and a fresh layer cache per strategy and repeat. Prints a "
            "per-stage table of the last step and each strategy's wall time relative to "
            "per-stage, and saves the builds, stages, instructions and spans tables as "
            "Parquet plus a timeline PNG per strategy."
        ),
    )
    parser.add_argument(
        "dockerfile", metavar="FILE_OR_EXAMPLE_DIR",
        help="a Dockerfile, or a directory with Dockerfile and context/ (e.g. datasets/examples/two-stage); "
        "with --mode, a corpus in any form `cachelab study` accepts",
    )
    parser.add_argument(
        "--context", metavar="DIR",
        help="build context (default: the example's context/, else the Dockerfile's directory)",
    )
    parser.add_argument(
        "--strategies", default="per-stage,lookahead", metavar="LIST",
        help="comma-separated strategies among no-cache, per-stage, lookahead, graph (default: %(default)s)",
    )
    parser.add_argument("--repeats", type=int, default=1, metavar="N",
                        help="runs of the whole scenario per strategy (default: %(default)s)")
    parser.add_argument(
        "--scenario", default="warm-unchanged",
        help="warm-unchanged, edit:PATH (PATH is a file of the context, not a directory), build-arg:K=V, or a name from cachelab-scenarios.toml "
        "beside the Dockerfile; every step is checked against the context before the first build "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--build-arg", action="append", default=[], metavar="NAME[=VALUE]",
        help="build argument for every build, as in `cachelab build`; repeatable",
    )
    parser.add_argument("--target", action="append", default=[], metavar="STAGE",
                        help="stage to build (default: the last); repeatable")
    add_secret_argument(parser)
    parser.add_argument(
        "--image-store", metavar="DIR",
        help="local image store searched for base images first (default: $CACHELAB_CACHE_DIR/images)",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR",
        help=f"output directory (default: ./{DEFAULT_OUT_ROOT}/<example or Dockerfile directory name>); "
        "a DIR that already contains a recording is rejected before the first build unless --force is given",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="replace the recording in the output directory and remove the timeline-*.png files "
        "an earlier compare wrote there, once every build has succeeded; a failed or interrupted "
        "compare leaves them as they were; with --mode, the same for the study in the output directory",
    )
    parser.add_argument("--quiet", action="store_true", help="print no line per build on stderr")
    from cachelab.cli.study import add_corpus_arguments

    add_corpus_arguments(parser)
    parser.set_defaults(handler=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from cachelab.study.errors import StudyError

    if args.mode is not None:
        from cachelab.cli.study import run_study

        if args.secret:
            raise StudyError("--secret applies to one Dockerfile, not to a corpus study (--mode)",
                             hint="Leave out --secret, or compare one Dockerfile without --mode.")
        return run_study(args)
    from cachelab.cli.build import check_record_directory
    from cachelab.cli.plan import parse_build_args
    from cachelab.study.workspace import resolve_input

    _reject_corpus_without_mode(args.dockerfile, args.context)
    build_args = parse_build_args(args.build_arg)
    strategies = [name.strip() for name in args.strategies.split(",") if name.strip()]
    out_dir = args.out
    if out_dir is None:
        out_dir = Path(DEFAULT_OUT_ROOT) / resolve_input(args.dockerfile, args.context).name
    check_record_directory(out_dir, force=args.force, option="--out")

    with secret_files(args.secret) as secrets:
        _compare(args, out_dir, build_args, strategies, secrets)
    return 0


def _reject_corpus_without_mode(argument: str, context: str | None) -> None:
    """Raise a StudyError naming `--mode` when `argument` is no Dockerfile or example but a corpus."""
    from cachelab.corpus.errors import CorpusError
    from cachelab.corpus.source import resolve_corpus
    from cachelab.study.errors import StudyError
    from cachelab.study.workspace import resolve_input

    try:
        resolve_input(argument, context)
    except StudyError as not_an_input:
        try:
            source = resolve_corpus(argument)
        except CorpusError:
            raise not_an_input from None
        if source.kind == "dockerfile":
            raise
        raise StudyError(
            f"{argument} is a corpus ({source.describe()}), and compare without --mode builds one Dockerfile",
            hint="Add --mode model or --mode replay to study the corpus, or pass one Dockerfile or example directory.",
        ) from None


def _compare(args: argparse.Namespace, out_dir: Path, build_args: dict[str, str], strategies: list[str],
             secrets: dict[str, Path]) -> None:
    from cachelab.cli._staging import replace_outputs, staging_directory
    from cachelab.cli.build import recording_files
    from cachelab.record.cache_failures import describe_failures
    from cachelab.study.compare import compare, write_report

    # The outputs go to a staging directory inside OUT and replace an earlier
    # recording only after every build succeeded, so a failed or interrupted
    # compare leaves that recording as it was.
    with staging_directory(out_dir, prefix=STAGING_PREFIX) as staging:
        recording = compare(
            args.dockerfile,
            args.context,
            strategies=strategies,
            scenario=args.scenario,
            repeats=args.repeats,
            out_dir=staging,
            image_store=args.image_store,
            build_args=build_args,
            targets=tuple(args.target),
            secrets=secrets,
            progress=not args.quiet and "CI" not in os.environ,
        )
        written = replace_outputs(recording_files(staging), out_dir, earlier=recording_files(out_dir))

    write_report(recording, sys.stdout)
    for path in written:
        print(f"wrote {path}")
    failures = describe_failures(recording.builds)
    if failures is not None:
        # A failed push leaves its entry out of the cache, so a later step misses where it would hit.
        print(f"cachelab: warning: {failures}. These builds went on without those cache operations.")
