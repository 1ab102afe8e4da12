"""`cachelab explain`: why keys differ between two recorded key-part lists."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="explain the first key difference between two `cachelab keys --parts` files",
        description=(
            "Compare two key-part files written by `cachelab keys --parts` instruction by "
            "instruction (by stage and index as written) and name, for the first instruction "
            "whose parts differ, the part that changed: an env entry, the instruction text, "
            "or which file and whether its mode, owner or content changed. Exits 1 when a "
            "difference is found, 0 when none is."
        ),
    )
    parser.add_argument("before", type=Path, metavar="BEFORE.json", help="key parts of the earlier build")
    parser.add_argument("after", type=Path, metavar="AFTER.json", help="key parts of the later build")
    parser.set_defaults(handler=run)


def load_parts(path: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """Read a parts file into rows by (stage, index)."""
    from cachelab.plan.errors import PlanError

    hint = "Write it with `cachelab keys FILE --context DIR --parts OUT.json`."
    try:
        rows = json.loads(path.read_text())
        by_position = {(row["stage"], row["index"]): row for row in rows}
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanError(f"{path} is not a key-part file: {exc}", hint=hint) from exc

    # `cachelab keys --format json` writes the same rows without `parts`, and
    # comparing those would report every instruction as equal.
    without_parts = [row for row in by_position.values() if "parts" not in row]
    if without_parts:
        raise PlanError(
            f"{path} has no key parts for stage {without_parts[0]['stage']} instruction "
            f"{without_parts[0]['index']}; it looks like `cachelab keys` output, not a --parts file",
            hint="Write a key-part file with `cachelab keys FILE --context DIR --parts OUT.json` and pass OUT.json.",
        )
    return by_position


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
    from cachelab.keys.explain import explain

    before = load_parts(args.before)
    after = load_parts(args.after)
    for position in sorted(before.keys() | after.keys()):
        first, second = before.get(position), after.get(position)
        stage, index = position
        if first is None or second is None:
            present = first if first is not None else second
            assert present is not None
            side = "BEFORE" if first is None else "AFTER"
            print(f"stage {stage} instruction {index} ({present['instruction']!r}) is missing from {side}")
            return 1
        difference = explain(key_parts(first), key_parts(second))
        if difference is not None:
            print(f"stage {stage} instruction {index}: {second['instruction']}")
            print(f"  {difference.describe()}")
            return 1
        if first.get("key") != second.get("key") and first.get("key") and second.get("key"):
            # Equal parts but different keys: the chain before this stage differs
            # (its base image seed or the base stage's key).
            print(f"stage {stage} instruction {index}: {second['instruction']}")
            print("  the parts are equal; the stage's seed (base image or base stage key) differs")
            return 1
    print("no difference: every instruction has the same parts")
    return 0
