"""`cachelab store`: inspect and maintain an OCI image layout store (the local cache)."""

from __future__ import annotations

import argparse

from cachelab.cli._arguments import seconds_or_duration


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "store", help="check or clean an OCI image layout store",
        description="Check the blobs and references of an OCI image layout store, such as the local "
        "layer cache or image store (`check`), or delete the blobs no tag references (`gc`).",
    )
    actions = parser.add_subparsers(dest="store_command", metavar="ACTION", required=True)

    check = actions.add_parser(
        "check", help="verify every blob's digest and every reference's digest and size",
        description="Verify an OCI image layout store; exits 1 and lists the problems if any.",
    )
    check.add_argument("directory", metavar="DIR", help="the layout directory (contains oci-layout)")
    check.set_defaults(handler=_check)

    gc = actions.add_parser("gc", help="delete blobs that no tag references",
                            description="Delete blobs that no tag in index.json reaches.")
    gc.add_argument("directory", metavar="DIR", help="the layout directory (contains oci-layout)")
    gc.add_argument("--keep-newer-than", type=seconds_or_duration, default=300.0, metavar="DURATION",
                    help="spare blobs modified less than this long ago, which a running build may "
                    "still tag; plain seconds (300) or a duration (5m) (default: %(default)g seconds)")
    gc.set_defaults(handler=_gc)


def _check(args: argparse.Namespace) -> int:
    from cachelab.oci.layout import LayoutStore

    store = LayoutStore(args.directory)
    problems = store.check()
    for problem in problems:
        print(problem)
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        print(f"{len(problems)} {noun} in {args.directory}")
        return 1
    print(f"{args.directory}: ok ({len(store.tags())} tags)")
    return 0


def _gc(args: argparse.Namespace) -> int:
    from cachelab.oci.layout import LayoutStore

    removed = LayoutStore(args.directory).gc(keep_newer_than=args.keep_newer_than)
    print(f"removed {len(removed)} unreferenced blobs from {args.directory}")
    return 0
