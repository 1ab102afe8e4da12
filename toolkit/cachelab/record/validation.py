"""Check loaded tables against the rules of the schema, one problem per broken rule.

A recording edited by hand or damaged in transit can carry values no source
writes: a negative wall time, a duplicated row, a decision outside the
vocabulary. Statistics would use them silently (a duplicated build doubles the
sample size), so loading rejects them. Every check is vectorised, so it adds
little to the time pandas takes to read the files.

Row numbers in the problems are 0-based positions in the Parquet file.
"""

from __future__ import annotations

import pandas as pd

from cachelab.record import schema

# Row numbers listed per problem; the rest are counted.
LISTED_ROWS = 5


def table_problems(name: str, table: pd.DataFrame, *, path: str) -> list[str]:
    """Return a description of every rule of the schema that `table` breaks.

    `table` must have the columns and dtypes of table `name` (see
    `storage.coerce_table`), and `path` is the file it was read from.
    """
    problems: list[str] = []
    problems.extend(_missing_keys(name, table))
    problems.extend(_repeated_keys(table, schema.KEYS[name], "primary key"))
    if name in schema.STABLE_KEYS:
        stable = ("build_id", *schema.STABLE_KEYS[name])
        if stable != schema.KEYS[name]:
            problems.extend(_repeated_keys(table, stable, "key"))
    problems.extend(_outside_vocabulary(table, schema.VOCABULARIES[name]))
    problems.extend(_negative(table, schema.NON_NEGATIVE[name]))
    if name == "spans":
        problems.extend(_ends_before_start(table))
    if name == "builds":
        problems.extend(_stage_counts_mismatch(table))
    return [f"{path}: {problem}" for problem in problems]


def _missing_keys(name: str, table: pd.DataFrame) -> list[str]:
    problems = []
    for column in schema.KEYS[name]:
        missing = table[column].isna()
        if missing.any():
            problems.append(f"column {column} is NA in {_rows(missing)}, but it is part of the primary key")
    return problems


def _repeated_keys(table: pd.DataFrame, columns: tuple[str, ...], label: str) -> list[str]:
    # Rows with NA in a key column are left to `_missing_keys`, or, for a stable
    # key, are rows whose source did not report it.
    complete = table[list(columns)].notna().all(axis=1)
    keyed = table.loc[complete, list(columns)]
    repeated = keyed.duplicated(keep=False)
    if not repeated.any():
        return []
    first = tuple(_plain(value) for value in keyed[repeated].iloc[0])
    mask = pd.Series(False, index=table.index)
    mask[keyed.index[repeated]] = True
    return [
        (f"{label} ({', '.join(columns)}) repeats in {_rows(mask)}, "
         f"for example {_format_key(first)}"),
    ]


def _outside_vocabulary(table: pd.DataFrame, vocabularies: dict[str, frozenset[str]]) -> list[str]:
    problems = []
    for column, allowed in vocabularies.items():
        values = table[column]
        invalid = values.notna() & ~values.isin(allowed)
        if invalid.any():
            examples = ", ".join(repr(value) for value in values[invalid].unique()[:LISTED_ROWS])
            problems.append(
                f"column {column} has invalid values {examples} in {_rows(invalid)}. "
                f"Valid values are {', '.join(sorted(allowed))}"
            )
    return problems


def _negative(table: pd.DataFrame, columns: tuple[str, ...]) -> list[str]:
    problems = []
    for column in columns:
        negative = (table[column] < 0).fillna(False)
        if negative.any():
            problems.append(f"column {column} is negative in {_rows(negative)}")
    return problems


def _ends_before_start(table: pd.DataFrame) -> list[str]:
    backwards = (table["end_s"] < table["start_s"]).fillna(False)
    if not backwards.any():
        return []
    return [f"column end_s is less than start_s in {_rows(backwards)}"]


def _stage_counts_mismatch(table: pd.DataFrame) -> list[str]:
    parts = ["stages_built", "stages_eliminated", "stages_squashed", "stages_unused"]
    counted = table[["stages_total", *parts]].notna().all(axis=1)
    mismatch = (counted & (table[parts].sum(axis=1) != table["stages_total"])).fillna(False)
    if not mismatch.any():
        return []
    return [f"column stages_total is not the sum of {', '.join(parts)} in {_rows(mismatch)}"]


def _rows(mask: pd.Series) -> str:
    positions = [int(position) for position in mask.to_numpy().nonzero()[0]]
    listed = ", ".join(str(position) for position in positions[:LISTED_ROWS])
    more = len(positions) - LISTED_ROWS
    word = "row" if len(positions) == 1 else "rows"
    if more > 0:
        return f"{word} {listed} and {more} more"
    return f"{word} {listed}"


def _plain(value: object) -> object:
    # numpy scalars print as `np.int64(1)`; their Python value prints as `1`.
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _format_key(values: tuple[object, ...]) -> str:
    if len(values) == 1:
        return repr(values[0])
    return "(" + ", ".join(repr(value) for value in values) + ")"
