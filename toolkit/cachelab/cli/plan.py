"""`cachelab plan`: kaniko's cache decisions for a Dockerfile, before building it."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachelab.errors import CachelabError

if TYPE_CHECKING:
    from cachelab.keys.flags import KanikoOptions
    from cachelab.plan.decisions import StagePlan
    from cachelab.plan.interfaces import BaseImageSource, LayerCache
    from cachelab.plan.planner import Planner

logger = logging.getLogger(__name__)

BUILD_ARG_HINT = "Write --build-arg NAME=VALUE, or --build-arg NAME to take the value of the environment variable NAME."


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="show kaniko's cache decisions for a Dockerfile without building it",
        description=(
            "Compute every cache key kaniko would use, probe the cache and print kaniko's "
            "dry-run plan (text) or one row per instruction (table, json). kaniko's plan "
            "has CACHE lines only with --cache and FF_KANIKO_CACHE_LOOKAHEAD (profile "
            "kaniko-lookahead). For other profiles the text ends with cachelab's "
            "decisions as lines starting with `#`, which are not kaniko output. In "
            "kaniko's lines, CACHE MISS also stands for a keyed instruction that was not "
            "probed (decision not-probed in the table)."
        ),
    )
    add_build_arguments(parser)
    parser.add_argument(
        "--cache", default=None, metavar="STORE",
        help="cache to probe: 'mem' (an empty cache), 'oci:DIR' (kaniko's layout form), "
        "a registry repository HOST[:PORT]/REPO whose HOST contains '.' or ':' or is localhost, "
        "or else an existing layout store DIR (default: the cache "
        "`cachelab build` writes by default, so the plan shows what the next build does)",
    )
    parser.add_argument(
        "--format", choices=("text", "table", "json"), default="text",
        help="text: kaniko's plan lines, plus cachelab's decisions as `#` lines when kaniko "
        "prints no cache lines; table or json: one row per instruction (default: text)",
    )
    parser.set_defaults(handler=run)


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options `plan` and `keys` share, spelled as kaniko spells them."""
    parser.add_argument("dockerfile", metavar="FILE", help="a Dockerfile, or a directory with Dockerfile and context/")
    parser.add_argument("--context", metavar="DIR", help="the build context (default: FILE's context/ directory)")
    parser.add_argument(
        "--profile", default="kaniko-lookahead",
        help="named set of kaniko options and feature flags: kaniko, kaniko-copy, "
        "kaniko-lookahead or no-cache (default: kaniko-lookahead); FF_KANIKO_* "
        "environment variables override it",
    )
    parser.add_argument(
        "--build-arg", action="append", default=[], metavar="K=V",
        help="a build argument; repeat for more. `--build-arg K` takes the value of K from the environment, "
        "and the empty value when K is unset, as kaniko does",
    )
    parser.add_argument(
        "--target", action="append", default=[], metavar="STAGE",
        help="target stage; repeat or give a comma-separated list (the first is pushed)",
    )
    parser.add_argument(
        "--base", action="append", default=[], metavar="REF=MANIFEST.json,CONFIG.json",
        help="a base image given by its saved manifest and config; repeat for each FROM reference",
    )
    parser.add_argument(
        "--platform", default=None, metavar="OS/ARCH",
        help="target platform of the predefined ARGs (default: this machine's)",
    )


def parse_build_args(values: Sequence[str]) -> dict[str, str]:
    """Parse `--build-arg` values as kaniko's executor does; raise CachelabError on an invalid name.

    A bare `NAME` takes the value of the environment variable NAME, and the empty
    value when NAME is unset, so it then replaces the ARG's default
    (`resolveEnvironmentBuildArgs` in kaniko's cmd/executor/cmd/root.go). The
    last value given for a name wins. An empty name, or one with whitespace,
    matches no ARG, so it is rejected where kaniko would ignore it.
    """
    parsed: dict[str, str] = {}
    for value in values:
        name, sep, given = value.partition("=")
        if not name:
            raise CachelabError(f"invalid --build-arg {value!r}: the name before '=' is empty", hint=BUILD_ARG_HINT)
        if any(character.isspace() for character in name):
            raise CachelabError(f"invalid --build-arg {value!r}: the name {name!r} contains whitespace",
                                hint=BUILD_ARG_HINT)
        if not sep:
            given = os.environ.get(name, "")
            if name not in os.environ:
                logger.warning("--build-arg %s: environment variable %s is not set, so %s is empty "
                               "and replaces any ARG default", name, name, name)
        parsed[name] = given
    return parsed


def check_platform(value: str | None) -> str | None:
    """Return a `--platform` value unchanged, or raise CachelabError when it is not os/arch[/variant]."""
    if value is None:
        return None
    from cachelab.dockerfile.args import Platform

    try:
        Platform.parse(value)
    except ValueError as exc:
        raise CachelabError(str(exc), hint="Write the platform as os/arch[/variant], such as linux/arm64.") from None
    return value


def parse_targets(values: Sequence[str]) -> list[str]:
    """Split repeated and comma-separated `--target` values, keeping their order."""
    return [target for value in values for target in value.split(",") if target]


def build_options(profile_name: str) -> KanikoOptions:
    """Return the named profile with any FF_KANIKO_* environment variable applied.

    `plan`, `keys` and `build` all take their options from here, so a plan
    predicts the build made under the same environment.
    """
    from cachelab.keys.flags import profile
    from cachelab.plan.errors import PlanError

    try:
        options = profile(profile_name)
    except KeyError as exc:
        raise PlanError(str(exc.args[0]), hint="Pick one of the profiles listed.") from None
    return options.with_env(os.environ)


def open_cache(location: str | None) -> LayerCache:
    """Open the cache a `--cache` value names (None: the builder's default store, which may not exist yet)."""
    if location is None:
        from cachelab.build.stores import default_cache_store

        location = str(default_cache_store())
    elif location == "mem":
        from cachelab.plan.memory import MemoryCache

        return MemoryCache()
    else:
        location = check_cache_location(location)
    from typing import cast

    from cachelab.oci.cache import open_layer_cache

    # The OCI caches take any blob with the LayerBlob fields, so they satisfy LayerCache.
    return cast("LayerCache", open_layer_cache(location))


def check_cache_location(location: str) -> str:
    """Return a `--cache` value unchanged, or raise CachelabError when it names no usable local store.

    Locations are classified as `cachelab build --cache-repo` classifies them,
    by `cachelab.oci.cache.cache_location_kind`. A local path must exist,
    because planning against a store that is not there would report every key
    as a miss.
    """
    from cachelab.oci.cache import KANIKO_LAYOUT, REGISTRY_REPOSITORY, cache_location_kind

    hint = "Pass the directory a build used as --cache-repo, or `mem` to plan against an empty cache."
    kind = cache_location_kind(location)
    if kind == KANIKO_LAYOUT:
        parent = Path(location[len("oci:"):]).parent
        if not parent.is_dir():
            raise CachelabError(f"cache directory {parent} of --cache {location} does not exist", hint=hint)
        return location
    if kind == REGISTRY_REPOSITORY:
        return location

    path = Path(location)
    if not path.exists():
        raise CachelabError(f"cache store {location} does not exist", hint=hint)
    if not path.is_dir():
        raise CachelabError(f"cache store {location} is not a directory", hint=hint)
    # An empty directory is an empty store, which a build fills; anything else needs the layout marker.
    if not (path / "oci-layout").is_file() and any(path.iterdir()):
        raise CachelabError(f"cache store {location} is not an OCI image layout (no oci-layout file)", hint=hint)
    return location


def make_planner(args: argparse.Namespace, cache: LayerCache | None) -> Planner:
    """Build a Planner from the shared command-line options."""
    from cachelab.dockerfile.parse import load_dockerfile
    from cachelab.plan.images import FileImageSource, parse_base_option
    from cachelab.plan.planner import Planner

    dockerfile = load_dockerfile(args.dockerfile)
    images: BaseImageSource
    if args.base:
        # Saved files only: `--base` is the way to plan with no store and no network.
        images = FileImageSource(dict(parse_base_option(value) for value in args.base))
    else:
        # The builder's sources: the local image store, an automatic busybox import,
        # then the image's registry.
        from cachelab.build.images import BuildImages
        from cachelab.build.stores import default_image_store

        images = BuildImages(default_image_store())
    return Planner(
        dockerfile,
        options=build_options(args.profile),
        context_dir=args.context,
        cache=cache,
        images=images,
        build_args=parse_build_args(args.build_arg),
        targets=parse_targets(args.target),
        platform=check_platform(args.platform),
        dockerfile_path=args.dockerfile,
        cache_repo=None if getattr(args, "cache", "mem") in ("mem", None) else args.cache,
    )


def instruction_rows(plans: Sequence[StagePlan]) -> list[dict[str, Any]]:
    """Return one row per instruction of every stage, as `--format table|json` prints them."""
    from cachelab.plan.render import table_decision

    rows = []
    for stage in plans:
        for instruction in stage.instructions:
            rows.append({
                "stage": stage.index,
                "stage_name": stage.name,
                "action": stage.action,
                "index": instruction.index,
                "line": instruction.line,
                "instruction": instruction.text,
                "key": instruction.key,
                "redirect_key": instruction.redirect_key,
                "decision": table_decision(stage, instruction),
                "a_priori": instruction.a_priori,
            })
    return rows


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print `rows` as aligned columns; keys are shortened to 12 characters."""
    def cell(row: dict[str, Any], column: str) -> str:
        value = row[column]
        if value is None:
            return "-"
        if column in ("key", "redirect_key"):
            return str(value)[:12]
        if column == "instruction" and len(str(value)) > 48:
            return str(value)[:47] + "\u2026"
        return str(value)

    table = [list(columns)] + [[cell(row, column) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip())


@contextlib.contextmanager
def dockerfile_located(dockerfile: str) -> Iterator[None]:
    """Name `dockerfile` in errors and warnings raised inside that name only a line (`PATH:LINE: ...`)."""
    from cachelab.keys.parts import bind_mount_warnings

    try:
        with bind_mount_warnings(dockerfile):
            yield
    except Exception as error:
        from cachelab.build.errors import add_dockerfile_path

        add_dockerfile_path(error, dockerfile)
        raise


def resolve_arguments(args: argparse.Namespace) -> None:
    """Replace an example directory in `args.dockerfile` by its Dockerfile and `args.context` by its context/."""
    from cachelab.cli.build import resolve_inputs

    dockerfile, context = resolve_inputs(args.dockerfile, args.context)
    args.dockerfile, args.context = str(dockerfile), str(context)


def run(args: argparse.Namespace) -> int:
    resolve_arguments(args)
    with dockerfile_located(args.dockerfile):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    planner = make_planner(args, open_cache(args.cache))
    if args.format == "text":
        from cachelab.plan.render import plan_text

        sys.stdout.write(plan_text(planner))
        return 0
    rows = instruction_rows(planner.dry_run())
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(rows, ("stage", "instruction", "key", "redirect_key", "decision", "a_priori"))
    return 0
