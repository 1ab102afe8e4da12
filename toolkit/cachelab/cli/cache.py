"""`cachelab cache ls|prune`: list a layer cache's entries, or delete old ones."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

from cachelab.cli._arguments import seconds_or_duration
from cachelab.cli._tables import format_table, human_size, shorten

if TYPE_CHECKING:
    from cachelab.cachels.listing import CacheRow
    from cachelab.cachels.stores import BlobCollection

STORE_HELP = (
    "the cache: kaniko's oci:DIR form, a registry repository HOST[:PORT]/REPO whose HOST contains "
    "'.' or ':' or is localhost, or else a layout store DIR (default: the builder's default layer cache)"
)


def _duration(text: str) -> timedelta:
    from cachelab.cachels.duration import parse_duration

    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "cache", help="list or prune a kaniko layer cache",
        description="List the entries of a kaniko layer cache (`ls`) or delete the old ones (`prune`). "
        "The cache is a layout store directory, kaniko's oci:DIR form, or a registry repository.",
    )
    actions = parser.add_subparsers(dest="cache_command", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "ls", help="list the entries of a layer cache",
        description="List one row per cache entry: key, kind (layer or pointer), age against the TTL, "
        "layer size, the instruction from its history and, for pointers, the content key they point "
        "to. With --dockerfile, mark the entries the Dockerfile's current keys would hit: FILE is a "
        "Dockerfile with --context DIR, or an example directory holding `Dockerfile` and `context/`.",
    )
    listing.add_argument("store", metavar="STORE", nargs="?", default=None, help=STORE_HELP)
    listing.add_argument("--format", choices=("table", "json"), default="table",
                         help="output format (default: %(default)s)")
    listing.add_argument("--ttl", type=_duration, default=None, metavar="DURATION",
                         help="age after which an entry counts as expired, such as 336h or 7d "
                         "(default: the profile's --cache-ttl, 336h for the built-in profiles)")
    listing.add_argument("--dockerfile", metavar="FILE",
                         help="mark the entries this Dockerfile would hit: a Dockerfile, or an example "
                         "directory with Dockerfile and context/")
    listing.add_argument("--context", metavar="DIR",
                         help="the build context (default: the example directory's context/, "
                         "required when --dockerfile names a file)")
    listing.add_argument("--profile", default="kaniko-lookahead",
                         help="kaniko option set to compute the keys with (default: %(default)s)")
    listing.add_argument("--build-arg", action="append", default=[], metavar="K=V",
                         help="a build argument of the Dockerfile; repeatable")
    listing.add_argument("--target", action="append", default=[], metavar="STAGE",
                         help="target stage; repeat or give a comma-separated list")
    listing.add_argument("--platform", default=None, metavar="OS/ARCH", help="target platform (default: this machine's)")
    listing.add_argument("--image-store", default=None, metavar="DIR",
                         help="layout store searched for base images first (default: the builder's)")
    _add_insecure(listing)
    listing.set_defaults(handler=_ls)

    prune = actions.add_parser(
        "prune", help="delete cache entries older than a duration (dry run unless --yes)",
        description="Select the entries created more than DURATION ago and list them; with --yes delete "
        "them. A layout store untags them and removes unreferenced blobs; oci:DIR removes each key's "
        "directory; a registry deletes their manifests where the registry allows deletes.",
    )
    prune.add_argument("store", metavar="STORE", nargs="?", default=None, help=STORE_HELP)
    prune.add_argument("--older-than", type=_duration, required=True, metavar="DURATION",
                       help="minimum age of the entries to delete, such as 336h, 90m or 7d")
    prune.add_argument("--yes", action="store_true", help="delete the selected entries (default: only list them)")
    prune.add_argument("--keep-newer-than", type=seconds_or_duration, default=300.0, metavar="DURATION",
                       help="layout stores: spare unreferenced blobs modified less than this long ago, which "
                       "a running build may still tag; plain seconds (300) or a duration (5m) "
                       "(default: %(default)g seconds)")
    _add_insecure(prune)
    prune.set_defaults(handler=_prune)


def _store_location(args: argparse.Namespace) -> str:
    if args.store is not None:
        return str(args.store)
    from cachelab.build.stores import default_cache_store

    return str(default_cache_store())


def _add_insecure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--insecure", action="append", default=[], metavar="HOST[:PORT]",
                        help="registry to reach over plain HTTP (loopback hosts always are); repeatable")


def _ls(args: argparse.Namespace) -> int:
    from cachelab.cachels.listing import list_cache
    from cachelab.cachels.matching import dockerfile_key_uses, mark_dockerfile_hits
    from cachelab.cachels.stores import open_cache_store

    if args.dockerfile:
        from cachelab.cli.plan import resolve_arguments

        resolve_arguments(args)
    store = open_cache_store(_store_location(args), insecure=args.insecure)
    try:
        rows = list_cache(store, ttl=args.ttl or _profile_ttl(args.profile))
        if args.dockerfile:
            from cachelab.cli.plan import parse_build_args, parse_targets

            uses = dockerfile_key_uses(
                args.dockerfile, args.context, cache=store.cache, profile=args.profile,
                build_args=parse_build_args(args.build_arg), targets=parse_targets(args.target),
                platform=args.platform, image_store=args.image_store, insecure=args.insecure,
            )
            mark_dockerfile_hits(rows, uses)
    finally:
        store.close()

    if args.format == "json":
        json.dump([row.to_json() for row in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_rows(rows, with_match=bool(args.dockerfile)))
    return 0


def _profile_ttl(profile_name: str) -> timedelta:
    from cachelab.keys.flags import DEFAULT_CACHE_TTL, profile

    try:
        return profile(profile_name).cache_ttl
    except KeyError:
        return DEFAULT_CACHE_TTL


def render_rows(rows: list[CacheRow], *, with_match: bool) -> str:
    """Render cache rows as a table; keys are cut to 12 hex characters."""
    from cachelab.cachels.duration import format_age

    header = ["key", "kind", "created", "age", "expired", "size", "created_by / points to"]
    if with_match:
        header += ["match", "hit by"]
    table = []
    for row in rows:
        if row.kind == "pointer":
            detail = f"-> {row.pointer_key[:12]}" if row.pointer_key else "-> ?"
        elif row.kind == "invalid":
            detail = shorten(row.error, 60)
        else:
            detail = shorten(row.created_by, 60)
        expired = "-"
        if row.expired is not None:
            expired = "yes" if row.expired else "no"
        line = [
            row.key[:12], row.kind,
            row.created.strftime("%Y-%m-%d %H:%M:%S") if row.created else "-",
            format_age(timedelta(seconds=row.age_s)) if row.age_s is not None else "-",
            expired,
            human_size(row.layer_size) if row.kind == "layer" else "-",
            detail,
        ]
        if with_match:
            line += [row.match or "-", shorten(row.hit_by, 60)]
        table.append(line)
    hits = sum(1 for row in rows if row.match == "hit")
    summary = f"{len(rows)} entries"
    if with_match:
        summary += f", {hits} would hit"
    return format_table(header, table) + summary + "\n"


def _prune(args: argparse.Namespace) -> int:
    from cachelab.cachels.duration import format_age
    from cachelab.cachels.prune import prune_cache
    from cachelab.cachels.stores import open_cache_store

    store = open_cache_store(_store_location(args), insecure=args.insecure,
                             keep_newer_than=args.keep_newer_than)
    try:
        result = prune_cache(store, older_than=args.older_than, delete=args.yes)
    finally:
        store.close()

    for row in result.selected:
        age = format_age(timedelta(seconds=row.age_s or 0))
        print(f"{row.key}  {row.kind:7}  {age:>8}  {shorten(row.created_by or row.pointer_key, 60)}")
    if result.dry_run:
        print(f"would delete {len(result.selected)} entries, keep {result.kept_count}; pass --yes to delete")
        return 0
    for key, reason in result.failed:
        print(f"not deleted {key}: {reason}", file=sys.stderr)
    print(f"deleted {len(result.deleted)} entries, kept {result.kept_count}, failed {len(result.failed)}")
    if result.blobs is not None:
        print(describe_blob_collection(result.blobs, _store_location(args)))
    return 1 if result.failed else 0


def describe_blob_collection(blobs: BlobCollection, location: str) -> str:
    """Describe the blobs a layout store prune removed and kept, and how to remove the kept ones."""
    text = f"freed {human_size(blobs.freed_bytes)} in {blobs.freed_blobs} unreferenced blobs"
    if blobs.kept_blobs == 0:
        return text
    return (
        f"{text}; kept {blobs.kept_blobs} unreferenced blobs ({human_size(blobs.kept_bytes)}) modified less "
        f"than {blobs.keep_newer_than:g} s ago, because a running build may still tag them. "
        f"When no build uses the store, `cachelab store gc {location} --keep-newer-than 0` removes them"
    )
