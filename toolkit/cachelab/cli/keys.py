"""`cachelab keys`: the cache key of every instruction in a cold build."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachelab.cli.plan import (
    add_build_arguments,
    dockerfile_located,
    make_planner,
    print_table,
    resolve_arguments,
)

if TYPE_CHECKING:
    from cachelab.plan.decisions import StagePlan


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="print the cache key of every instruction of a cold build",
        description=(
            "Compute kaniko's cache key of every instruction as a build with an empty cache "
            "would. A key that needs the files of a stage built earlier in the same build "
            "(a COPY --from and what follows it) is null."
        ),
    )
    add_build_arguments(parser)
    parser.add_argument(
        "--format", choices=("json", "table"), default="json",
        help="json: a list of objects; table: aligned columns with shortened keys (default: json)",
    )
    parser.add_argument(
        "--parts", type=Path, default=None, metavar="FILE",
        help="also write every instruction's labelled key parts to FILE, for `cachelab explain`. "
        "A file part records its path as kaniko uses it and, for a context source, the "
        "context root, so explain can compare builds from different directories. "
        "Missing folders above FILE are created. An existing FILE is rejected unless --force is given",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="with --parts, replace an existing FILE",
    )
    parser.set_defaults(handler=run)


def key_rows(plans: dict[int, StagePlan], names: dict[int, str | None]) -> list[dict[str, Any]]:
    """Return one row per instruction, with `stage` and `index` as written (also inside squashed stages)."""
    rows = []
    for plan in plans.values():
        positions: dict[int, int] = defaultdict(int)
        for instruction in plan.instructions:
            origin = instruction.origin_stage
            rows.append({
                "stage": origin,
                "stage_name": names.get(origin),
                "index": positions[origin],
                "instruction": instruction.text,
                "key": instruction.key,
            })
            positions[origin] += 1
    rows.sort(key=lambda row: (row["stage"], row["index"]))
    return rows


def part_rows(
    plans: dict[int, StagePlan], names: dict[int, str | None], context_root: str | None = None,
    key_mode: str | None = None,
) -> list[dict[str, Any]]:
    """Return the key rows plus each instruction's labelled parts (file parts with their hashed entries).

    A file part whose path lies in `context_root` records that root as
    `context_root`, which `cachelab explain` uses to match files by their path
    relative to it. `key_mode` (`legacy` or `rolling`) is stored in every row,
    because equal parts give different keys under the two modes.
    """
    rows = key_rows(plans, names)
    if key_mode is not None:
        for row in rows:
            row["key_mode"] = key_mode
    instructions = [i for plan in plans.values() for i in plan.instructions]
    by_text = {(row["stage"], row["index"]): row for row in rows}
    positions: dict[int, int] = defaultdict(int)
    for instruction in instructions:
        row = by_text[(instruction.origin_stage, positions[instruction.origin_stage])]
        positions[instruction.origin_stage] += 1
        row["parts"] = [_part_record(part, context_root) for part in instruction.labelled_parts]
    return rows


def _part_record(part: Any, context_root: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"kind": part.kind, "value": part.value, "path": part.path}
    if part.kind == "file" and context_root and _is_within(part.path, context_root):
        record["context_root"] = context_root
    if part.file is not None:
        record["is_dir"] = part.file.is_dir
        record["entries"] = [
            {"path": e.path, "mode": e.mode, "owner": e.owner, "digest": e.digest, "size": e.size}
            for e in part.file.entries
        ]
    return record


def _is_within(path: str | None, root: str) -> bool:
    if path is None:
        return False
    root = root.rstrip("/")
    return path == root or path.startswith(root + "/")


def check_parts_file(path: Path, *, force: bool) -> None:
    """Raise CachelabError when `--parts` names a directory, or an existing file and `force` is off.

    The parts of a build before an edit are often the only copy, because the
    Dockerfile or context has changed since, so they are never replaced by accident.
    """
    from cachelab.errors import CachelabError

    if path.is_dir():
        raise CachelabError(f"--parts {path} is a directory", hint="Pass the path of a file to write.")
    if path.exists() and not force:
        raise CachelabError(
            f"--parts {path} already exists",
            hint="Pass a new file name, or add --force to replace it.",
        )


def _write_parts(path: Path, rows: list[dict[str, Any]]) -> None:
    from cachelab.cli._outputs import create_parent_folders, output_error, remove_created_folders

    created = create_parent_folders(path, option="--parts")
    try:
        path.write_text(json.dumps(rows, indent=2) + "\n")
    except OSError as exc:
        remove_created_folders(created)
        raise output_error(path, exc, option="--parts") from exc


def run(args: argparse.Namespace) -> int:
    if args.parts is not None:
        check_parts_file(args.parts, force=args.force)
    resolve_arguments(args)
    with dockerfile_located(args.dockerfile):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    planner = make_planner(args, cache=None)
    plans = planner.static_keys()
    names = {stage.index: stage.name for stage in planner.dockerfile.stages}
    if args.parts is not None:
        key_mode = "rolling" if planner.gates.rolling else "legacy"
        labelled = part_rows(plans, names, planner.context_dir, key_mode)
        _write_parts(args.parts, labelled)
    rows = key_rows(plans, names)
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(rows, ("stage", "stage_name", "index", "instruction", "key"))
    return 0
