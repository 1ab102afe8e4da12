"""`cachelab explain`: why keys differ between two recorded key-part lists."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from cachelab.cli._errors import EXIT_FAILURE, error_boundary

# Exit statuses, as diff(1) uses them.
EXIT_SAME = 0
EXIT_DIFFERENT = 1
EXIT_ERROR = 2

_WRITE_HINT = "Write a key-part file with `cachelab keys FILE --context DIR --parts OUT.json` and pass OUT.json."


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="explain the first key difference between two `cachelab keys --parts` files",
        description=(
            "Compare two key-part files written by `cachelab keys --parts` instruction by "
            "instruction (by stage and index as written) and name, for the first instruction "
            "whose parts differ, the part that changed: an env entry, the instruction text, "
            "or which file and whether its mode, owner or content changed. Files are named "
            "by their path relative to the build context (or to the source stage's files), "
            "so two contexts in different directories compare file by file. When the files "
            "were written under different key modes (legacy or rolling, as the profile or "
            "FF_KANIKO_ROLLING_CACHE_KEY sets), that is named first, because it changes every key. "
            "Exit status, as with diff(1): 0 when no difference is found, 1 when one is, "
            "2 on an error such as a missing or invalid file."
        ),
    )
    parser.add_argument("before", type=Path, metavar="BEFORE.json", help="key parts of the earlier build: the JSON list of rows that `cachelab keys --parts` writes")
    parser.add_argument("after", type=Path, metavar="AFTER.json", help="key parts of the later build")
    parser.set_defaults(handler=run)


def load_parts(path: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """Read a parts file into rows by (stage, index); raise PlanError when it is missing or invalid."""
    from cachelab.plan.errors import PlanError

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PlanError(
            f"key-part file not found: {path}",
            hint=f"Check the path, or write the file with `cachelab keys FILE --context DIR --parts {path}`.",
        ) from None
    except OSError as exc:
        raise PlanError(f"failed to read key-part file {path}: {exc.strerror or exc}",
                        hint="Pass a readable file written by `cachelab keys --parts`.") from None
    try:
        rows = json.loads(text)
    except ValueError as exc:
        raise PlanError(f"{path} is not a key-part file: {exc}", hint=_WRITE_HINT) from exc
    if not isinstance(rows, list):
        raise PlanError(f"{path} is not a key-part file: expected a JSON list of rows, found {type(rows).__name__}",
                        hint=_WRITE_HINT)
    by_position: dict[tuple[int, int], dict[str, Any]] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or "stage" not in row or "index" not in row:
            raise PlanError(
                f"{path} is not a key-part file: row {number} is not an object with `stage` and `index`",
                hint=_WRITE_HINT,
            )
        by_position[(row["stage"], row["index"])] = row

    # `cachelab keys --format json` writes the same rows without `parts`, and
    # comparing those would report every instruction as equal.
    without_parts = [row for row in by_position.values() if "parts" not in row]
    if without_parts:
        raise PlanError(
            f"{path} has no key parts for stage {without_parts[0]['stage']} instruction "
            f"{without_parts[0]['index']}; it looks like `cachelab keys` output, not a --parts file",
            hint=_WRITE_HINT,
        )
    return by_position


def context_root(rows: dict[tuple[int, int], dict[str, Any]]) -> str | None:
    """Return the build context root that a parts file's context paths lie in.

    Files written by `cachelab keys --parts` record it as `context_root` on
    each context file part. Older files do not, so the root is taken as the
    deepest directory that contains every context file part.
    """
    paths: list[str] = []
    for row in rows.values():
        for record in row.get("parts") or []:
            if record.get("kind") != "file" or not record.get("path"):
                continue
            if record.get("context_root"):
                return str(record["context_root"])
            if not record["path"].startswith("/kaniko/deps/"):
                paths.append(record["path"])
    if not paths:
        return None
    # NOTE: for an old file whose context sources all sit in one subdirectory
    # this finds that subdirectory, so names are relative to it, and two old
    # files with different source sets can get roots of different depth.
    return os.path.commonpath([os.path.dirname(path) for path in paths])


def key_parts(row: dict[str, Any]) -> list[Any]:
    """Rebuild the key engine's KeyPart objects of one row."""
    from cachelab.keys.filehash import EntryDigest, PathPart
    from cachelab.keys.parts import KeyPart

    parts = []
    for record in row.get("parts") or []:
        file = None
        if "entries" in record:
            entries = tuple(EntryDigest(**entry) for entry in record["entries"])
            file = PathPart(record["path"], record["value"], record.get("is_dir", False), entries)
        parts.append(KeyPart(record["kind"], record["value"], path=record["path"], file=file))
    return parts


def run(args: argparse.Namespace) -> int:
    # Errors are printed as every command prints them, but exit with 2, because
    # 1 means "a difference was found".
    status: int | None = None
    with error_boundary() as outcome:
        status = compare(args.before, args.after)
    if outcome.code == EXIT_FAILURE:
        return EXIT_ERROR
    if outcome.code != 0 or status is None:
        return outcome.code
    return status


def compare(before_path: Path, after_path: Path) -> int:
    """Print the first difference between two parts files and return the exit status."""
    from cachelab.keys.explain import describe_key_modes, explain

    before = load_parts(before_path)
    after = load_parts(after_path)
    roots = (context_root(before), context_root(after))
    # The mode changes every key, so it is reported first; the parts are still
    # compared, because they may differ as well.
    modes = describe_key_modes(key_mode(before), key_mode(after))
    if modes is not None:
        print(modes)
    for position in sorted(before.keys() | after.keys()):
        first, second = before.get(position), after.get(position)
        stage, index = position
        if first is None or second is None:
            present = first if first is not None else second
            assert present is not None
            side = "BEFORE" if first is None else "AFTER"
            print(f"stage {stage} instruction {index} ({present['instruction']!r}) is missing from {side}")
            return EXIT_DIFFERENT
        difference = explain(key_parts(first), key_parts(second), roots=roots)
        if difference is not None:
            print(f"stage {stage} instruction {index}: {second['instruction']}")
            print(f"  {difference.describe()}")
            return EXIT_DIFFERENT
        if modes is None and first.get("key") != second.get("key") and first.get("key") and second.get("key"):
            # Equal parts but different keys: the chain before this stage differs
            # (its base image seed or the base stage's key). Files written before
            # `key_mode` was recorded may also differ in mode.
            print(f"stage {stage} instruction {index}: {second['instruction']}")
            print(f"  the parts are equal; {_seed_cause(before, after)}")
            return EXIT_DIFFERENT
    if modes is not None:
        print("the parts of every instruction are equal")
        return EXIT_DIFFERENT
    print("no difference: every instruction has the same parts")
    return EXIT_SAME


def key_mode(rows: dict[tuple[int, int], dict[str, Any]]) -> str | None:
    """Return the key mode (`legacy` or `rolling`) a parts file records, or None when it records none."""
    return next((row["key_mode"] for row in rows.values() if row.get("key_mode")), None)


def _seed_cause(before: dict[tuple[int, int], dict[str, Any]], after: dict[tuple[int, int], dict[str, Any]]) -> str:
    if key_mode(before) is None or key_mode(after) is None:
        return ("the stage's seed (base image or base stage key) or the key mode (legacy or rolling) "
                "differs; this parts file does not record its key mode")
    return "the stage's seed (base image or base stage key) differs"
