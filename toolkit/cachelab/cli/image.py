"""`cachelab image`: make base images and look inside images.

`image import ROOTFS REF` stores a directory or tarball as a one-layer image;
`image busybox REF` builds a busybox rootfs first and imports that. The
inspection verbs live in `cachelab.cli.image_inspect`: `pull` copies an image
between a registry and a layout store, `unpack` extracts its layers, `inspect`
describes it and `diff` compares two images layer by layer.
"""

from __future__ import annotations

import argparse
import tempfile

COMPRESSIONS = ("gzip", "zstd", "none")
# Kept in step with the defaults of cachelab.oci.registry, which imports httpx.
REGISTRY_ENVIRONMENT_HELP = (
    "Registry requests: each attempt waits at most $CACHELAB_REGISTRY_TIMEOUT seconds (default 30; "
    "at most 10 to connect), and a failed attempt is retried $CACHELAB_REGISTRY_RETRIES times "
    "(default 3) after 0.5, 1 and 2 s, so a hung registry fails after about 124 s by default."
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "image", help="make, copy, unpack, inspect and compare images",
        description="Make, copy, unpack, inspect and compare images.",
        epilog=REGISTRY_ENVIRONMENT_HELP,
    )
    actions = parser.add_subparsers(dest="image_command", metavar="ACTION", required=True)

    importer = actions.add_parser(
        "import", help="store a rootfs directory or tarball as a single-layer image",
        description="Store a rootfs directory or tarball as a single-layer image at REF. An entry that "
        "extraction rejects (an absolute or '..' name, a symlink or hard link leading out of the root) "
        "fails the import, and nothing is written.",
        epilog=REGISTRY_ENVIRONMENT_HELP,
    )
    importer.add_argument("rootfs", metavar="ROOTFS_DIR_OR_TAR", help="directory or tar (plain, gzip or zstd)")
    _add_common(importer)
    importer.set_defaults(handler=_import)

    busybox = actions.add_parser(
        "busybox", help="build a busybox rootfs and import it",
        description="Build a rootfs from a static busybox (applet symlinks, /etc/passwd, /etc/group, "
        "/tmp) and store it as a single-layer image at REF.",
    )
    busybox.add_argument("--busybox", default="/bin/busybox", help="static busybox binary (default: %(default)s)")
    _add_common(busybox)
    busybox.set_defaults(handler=_busybox)

    from cachelab.cli import image_inspect

    image_inspect.register_actions(actions)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "reference", metavar="REF",
        help="oci:DIR:TAG or a registry reference host[:port]/repo:tag; TAG may contain ':' and '/' "
        "when DIR exists, because DIR is the longest existing directory before a ':'",
    )
    parser.add_argument("--compression", choices=COMPRESSIONS, default="gzip",
                        help="layer compression (default: %(default)s)")
    parser.add_argument("--docker-media-types", action="store_true",
                        help="write Docker schema 2 media types instead of OCI ones")
    parser.add_argument("--insecure", action="append", default=[], metavar="HOST[:PORT]",
                        help="registry to reach over plain HTTP (loopback hosts always are); repeatable")


def _run_import(rootfs: str, args: argparse.Namespace) -> int:
    from cachelab.oci.image import ImageResolver
    from cachelab.oci.importer import import_rootfs

    resolver = ImageResolver(insecure=args.insecure)
    try:
        result = import_rootfs(rootfs, args.reference, compression=args.compression,
                               docker=args.docker_media_types, resolver=resolver)
    finally:
        resolver.close()
    print(f"{result.reference} {result.manifest_digest}")
    return 0


def _import(args: argparse.Namespace) -> int:
    return _run_import(args.rootfs, args)


def _busybox(args: argparse.Namespace) -> int:
    from cachelab.oci.busybox import busybox_rootfs

    with tempfile.TemporaryDirectory(prefix="cachelab-busybox-") as scratch:
        rootfs = busybox_rootfs(f"{scratch}/rootfs", busybox=args.busybox)
        return _run_import(str(rootfs), args)
