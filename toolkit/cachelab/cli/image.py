"""`cachelab image`: make base images and look inside images.

`image import ROOTFS REF` stores a directory or tarball as a one-layer image;
`image busybox REF` builds a busybox rootfs first and imports that. The
inspection verbs live in `cachelab.cli.image_inspect`: `pull` copies an image
between a registry and a layout store, `unpack` extracts its layers, `inspect`
describes it and `diff` compares two images layer by layer.

The inspection verbs read a registry image from the local image store, where
`cachelab build` takes base images from, and contact the registry only when
the store lacks the image. `locate_image` makes that choice.
"""

from __future__ import annotations

import argparse
import sys
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
    from cachelab.oci.layout import check_layout_destination

    check_layout_destination(args.reference)
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


def add_image_store_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --image-store and --no-image-store, which `locate_image` reads."""
    parser.add_argument(
        "--image-store", default=None, metavar="DIR",
        help="local image store searched first for a registry reference, as `cachelab build` searches it "
        "for base images; the registry is contacted only when the store lacks the image "
        "(default: images/ in cachelab's cache directory)",
    )
    parser.add_argument("--no-image-store", action="store_true",
                        help="read registry references from their registry even when the local image store has them")


def locate_image(reference: str, args: argparse.Namespace) -> str:
    """Return the reference to read `reference` from, and print on stderr where the image comes from.

    A registry image that the local image store has is read from the store, by
    its manifest digest. Every other registry reference is returned unchanged,
    so it is read from its registry. An `oci:` reference is returned unchanged
    and silently, because it names its layout store itself. Unlike a build,
    this never imports busybox into the store.
    """
    from cachelab.build.stores import default_image_store, find_in_image_store
    from cachelab.oci.layout import LayoutStore
    from cachelab.oci.reference import LayoutReference, parse_reference

    parsed = parse_reference(reference)
    if isinstance(parsed, LayoutReference):
        return reference
    if args.no_image_store:
        _print_source(f"image {reference}: read from registry {parsed.registry} (--no-image-store)")
        return reference

    store = LayoutStore(args.image_store or default_image_store())
    found = find_in_image_store(store, reference)
    if found is None:
        _print_source(f"image {reference}: not in the local image store {store.path}, "
                      f"so read from registry {parsed.registry}")
        return reference
    tag, descriptor = found
    _print_source(f"image {reference}: found in the local image store {store.path} as {tag}")
    return f"oci:{store.path}@{descriptor['digest']}"


def _print_source(message: str) -> None:
    # stderr, so stdout stays the command's output (json for --format json).
    sys.stderr.write(f"cachelab: {message}\n")
