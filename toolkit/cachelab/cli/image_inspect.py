"""`cachelab image pull|unpack|inspect|diff`: copy, extract, describe and compare images.

These actions are added to the `image` subcommand by `cachelab.cli.image`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from cachelab.cli._tables import format_table, human_size, shorten
from cachelab.cli.image import add_image_store_arguments, locate_image

if TYPE_CHECKING:
    from cachelab.oci.diff import ImageDiff
    from cachelab.oci.inspect import ImageReport

# Paths listed per differing layer in table output; json lists them all.
MAX_LISTED_CHANGES = 50


def register_actions(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the pull, unpack, inspect and diff actions to the `image` subparsers."""
    pull = actions.add_parser(
        "pull", help="copy an image between a registry and a layout store, verifying every digest",
        description="Copy the image SOURCE names (manifest, config, layers) to DESTINATION. Either "
        "side is a registry reference or oci:DIR:TAG. Blobs the destination has are skipped.",
    )
    pull.add_argument("source", metavar="SOURCE", help="registry reference or oci:DIR:TAG to copy from")
    pull.add_argument("destination", metavar="DESTINATION", help="registry reference or oci:DIR:TAG to copy to")
    pull.add_argument("--all-platforms", action="store_true",
                      help="copy a whole index with every platform's image (default: only --platform's)")
    _add_platform(pull)
    _add_insecure(pull)
    add_image_store_arguments(pull)
    pull.set_defaults(handler=_pull)

    unpack = actions.add_parser(
        "unpack", help="extract an image's layers into an empty directory",
        description="Extract every layer of REF, bottom first, into ROOT with whiteouts applied. "
        "Hostile entries (escaping paths or links) stop the unpack with an error naming the layer "
        "and the entry. ROOT must be empty or absent.",
    )
    unpack.add_argument("reference", metavar="REF", help="registry reference or oci:DIR:TAG")
    unpack.add_argument("root", metavar="ROOT", help="directory to extract into (empty or absent)")
    unpack.add_argument("--keep-partial", action="store_true",
                        help="keep what was extracted when a layer fails (default: remove it)")
    _add_platform(unpack)
    _add_insecure(unpack)
    add_image_store_arguments(unpack)
    unpack.set_defaults(handler=_unpack)

    inspect = actions.add_parser(
        "inspect", help="show an image's manifest, config, history and layers",
        description="Show the manifest digest, media types, platform, config and, per layer, digest, "
        "diff_id, sizes, compression, number of entries and the instruction that created it.",
    )
    inspect.add_argument("reference", metavar="REF", help="registry reference or oci:DIR:TAG")
    inspect.add_argument("--format", choices=("table", "json"), default="table",
                         help="output format (default: %(default)s)")
    inspect.add_argument("--no-layers", action="store_true",
                         help="do not read layer blobs: skip compression, uncompressed size and entry counts")
    _add_platform(inspect)
    _add_insecure(inspect)
    add_image_store_arguments(inspect)
    inspect.set_defaults(handler=_inspect)

    diff = actions.add_parser(
        "diff", help="compare two images layer by layer",
        description="Pair the layers of A and B by position; report which are shared (same diff_id) "
        "and, for the others, the paths added, removed or changed (kind, mode, owner, size, "
        "content, link target, mtime).",
    )
    diff.add_argument("reference_a", metavar="REF_A", help="registry reference or oci:DIR:TAG")
    diff.add_argument("reference_b", metavar="REF_B", help="registry reference or oci:DIR:TAG")
    diff.add_argument("--format", choices=("table", "json"), default="table",
                      help="output format (default: %(default)s)")
    _add_platform(diff)
    _add_insecure(diff)
    add_image_store_arguments(diff)
    diff.set_defaults(handler=_diff)


def _add_platform(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform", default=None, metavar="OS/ARCH[/VARIANT]",
                        help="platform to pick from an index (default: this machine's)")


def _add_insecure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--insecure", action="append", default=[], metavar="HOST[:PORT]",
                        help="registry to reach over plain HTTP (loopback hosts always are); repeatable")


def _pull(args: argparse.Namespace) -> int:
    from cachelab.oci.copy import copy_image
    from cachelab.oci.image import ImageResolver
    from cachelab.oci.layout import check_layout_destination

    check_layout_destination(args.destination)
    resolver = ImageResolver(insecure=args.insecure)
    try:
        result = copy_image(locate_image(args.source, args), args.destination, all_platforms=args.all_platforms,
                            platform=args.platform, resolver=resolver)
    finally:
        resolver.close()
    print(f"{args.destination} {result.manifest_digest}")
    print(f"copied {result.blobs_copied} blobs ({human_size(result.bytes_copied)}), "
          f"skipped {result.blobs_skipped} present, wrote {result.manifests} manifests")
    return 0


def _unpack(args: argparse.Namespace) -> int:
    from cachelab.oci.image import ImageResolver
    from cachelab.oci.unpack import unpack_image

    resolver = ImageResolver(insecure=args.insecure)
    try:
        image = resolver.image(locate_image(args.reference, args), platform=args.platform)
        result = unpack_image(image, args.root, keep_partial=args.keep_partial)
    finally:
        resolver.close()
    print(f"unpacked {len(result.layers)} layers ({result.entries} entries) of {args.reference} into {args.root}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from cachelab.oci.image import ImageResolver
    from cachelab.oci.inspect import inspect_reference

    resolver = ImageResolver(insecure=args.insecure)
    try:
        report = inspect_reference(resolver, locate_image(args.reference, args), platform=args.platform,
                                   read_layers=not args.no_layers)
    finally:
        resolver.close()
    if args.format == "json":
        _print_json(report.to_json())
    else:
        sys.stdout.write(render_report(report))
    return 0


def _diff(args: argparse.Namespace) -> int:
    from cachelab.oci.diff import diff_images
    from cachelab.oci.image import ImageResolver

    resolver = ImageResolver(insecure=args.insecure)
    try:
        image_a = resolver.image(locate_image(args.reference_a, args), platform=args.platform)
        image_b = resolver.image(locate_image(args.reference_b, args), platform=args.platform)
        result = diff_images(image_a, image_b)
    finally:
        resolver.close()
    if args.format == "json":
        _print_json(result.to_json())
    else:
        sys.stdout.write(render_diff(result))
    return 0


def _print_json(document: dict[str, Any]) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


def render_report(report: ImageReport) -> str:
    """Render an inspection report as text: image facts, then one table row per layer."""
    lines = [
        f"reference       {report.reference}",
    ]
    if report.index_digest is not None:
        lines.append(f"index           {report.index_digest} ({', '.join(report.index_platforms)})")
    lines += [
        f"manifest        {report.manifest_digest}",
        f"media type      {report.media_type}",
        f"config          {report.config_digest} ({report.config_media_type})",
        f"platform        {report.platform}",
        f"created         {report.created or '-'}",
        f"entrypoint      {json.dumps(report.entrypoint) if report.entrypoint is not None else '-'}",
        f"cmd             {json.dumps(report.cmd) if report.cmd is not None else '-'}",
        f"workdir         {report.workdir or '-'}",
        f"user            {report.user or '-'}",
    ]
    lines += [f"env             {value}" for value in report.env] or ["env             -"]
    lines += [f"label           {name}={value}" for name, value in sorted(report.labels.items())]
    lines.append(f"history         {len(report.history)} entries, "
                 f"{sum(1 for item in report.history if item.get('empty_layer'))} without a layer")
    rows = [
        [
            str(layer.index), layer.digest[:19], layer.diff_id[:19], human_size(layer.size),
            human_size(layer.uncompressed_size), layer.compression or "-",
            "-" if layer.entries is None else str(layer.entries), shorten(layer.created_by, 60),
        ]
        for layer in report.layers
    ]
    header = ("#", "digest", "diff_id", "size", "uncompressed", "compression", "entries", "created_by")
    return "\n".join(lines) + "\n\n" + format_table(header, rows)


def render_diff(result: ImageDiff) -> str:
    """Render an image comparison as text: one line per layer pair, then its changed paths."""
    config = "same" if result.config_digest_a == result.config_digest_b else "differs"
    lines = [
        f"A  {result.reference_a}  {result.manifest_digest_a}",
        f"B  {result.reference_b}  {result.manifest_digest_b}",
        f"config {config}; {result.shared_layers} of {len(result.layers)} layers shared",
        "",
    ]
    for layer in result.layers:
        digest = (layer.digest_a or layer.digest_b or "")[:19]
        created_by = shorten(layer.created_by_a or layer.created_by_b, 60)
        note = " (same blob)" if layer.status == "shared" and layer.same_blob else ""
        if layer.status == "shared" and not layer.same_blob:
            note = " (same tar, different compressed blob)"
        lines.append(f"layer {layer.index}  {layer.status}{note}  {digest}  {created_by}")
        for change in layer.changes[:MAX_LISTED_CHANGES]:
            detail = f" ({', '.join(change.fields)})" if change.fields else ""
            lines.append(f"    {change.status:8} /{change.path}{detail}")
        hidden = len(layer.changes) - MAX_LISTED_CHANGES
        if hidden > 0:
            lines.append(f"    ... {hidden} more paths; use --format json for all of them")
    return "\n".join(lines) + "\n"
