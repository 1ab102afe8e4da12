"""The `cachelab` command line.

Each subcommand lives in its own module of this package and exposes
`register(subparsers)`, which adds its parser and sets `handler` to a function
taking the parsed namespace and returning an exit code. Modules import their heavy
dependencies (pandas, the builder) inside the handler, so `cachelab --help` and a
build stay fast.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
from collections.abc import Sequence

from cachelab import __version__
from cachelab.cli._errors import error_boundary

# Subcommand modules, in the order `cachelab --help` lists them.
SUBCOMMANDS: tuple[str, ...] = (
    "corpus",
    "regress",
    "image",
    "cache",
    "store",
    "stages",
    "scan",
    "build",
    "compare",
    "study",
    "plan",
    "keys",
    "explain",
    "ingest",
    "receive",
)


class _SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser, which rejects an unknown argument with its own usage line.

    argparse hands a subcommand's unknown arguments up to the top-level parser,
    whose error would print the usage of `cachelab` instead of the subcommand's.
    """

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the parser with every subcommand, or with the subcommand `only` alone."""
    parser = argparse.ArgumentParser(
        prog="cachelab",
        description="Measure, explain and teach container-build cache behaviour.",
    )
    parser.add_argument("--version", action="version", version=f"cachelab {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="log more: -v for INFO, -vv for DEBUG (default: warnings only)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_SubcommandParser)
    for name in SUBCOMMANDS:
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"cachelab.cli.{name.replace('-', '_')}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` and return the exit code; never exits."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Importing every subcommand module costs more than a warm build, so a
    # command line naming a subcommand loads only that one.
    parser = build_parser(only=_subcommand_of(arguments))
    args = parser.parse_args(arguments)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")

    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2

    with error_boundary() as outcome:
        outcome.code = handler(args)
    return outcome.code


def _subcommand_of(arguments: Sequence[str]) -> str | None:
    """Return the subcommand that `arguments` names, or None when the first word is another option or unknown."""
    for word in arguments:
        if word in ("-v", "-vv", "-vvv", "--verbose"):
            continue
        return word if word in SUBCOMMANDS else None
    return None


def entrypoint() -> None:
    """Run the command line as a process and exit with its status."""
    code = main()
    # Interpreter shutdown runs full garbage collections over every object the
    # process still has, most of them modules, classes and functions that the
    # imports created. Those collections skip frozen objects, which made a warm
    # lookahead build process about 7% faster (tests/bench/RESULTS.md). The
    # cost: reference cycles still alive here are never finalized, so commands
    # close their files themselves.
    gc.freeze()
    sys.exit(code)
