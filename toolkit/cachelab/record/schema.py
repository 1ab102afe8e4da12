"""Columns and dtypes of the four record tables: builds, stages, instructions, spans.

Every source of build data (the builder, the model, the ingesters) produces these
tables, so plots and statistics read one layout. Values a source cannot know are
NA, never 0. A byte count is 0 when the source reports every transfer and none
happened, such as in a stage that lookahead eliminated or a build whose layers
all came from the cache (see `BYTE_COUNTING_ENGINES`). A time column is 0 when
the source times every phase it runs and the row ran none of that phase (see
`PHASE_TIMING_ENGINES`). Column order here is the order of the
DataFrames. `KEYS`, `VOCABULARIES` and `NON_NEGATIVE` are the rules `Recording.load`
checks (`cachelab.record.validation`), and `STABLE_KEYS` names the columns that
join the rows of different builds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa

from cachelab.events.failures import CACHE_OPERATION_PHASES as FAILURE_PHASES

# Version of the table layout written to Parquet metadata. Raise it with every
# change to the columns below and add an upgrade step in `cachelab.record.storage`.
SCHEMA_VERSION = 7

STRING = "string"
INT = "Int64"
FLOAT = "Float64"
BOOL = "boolean"
TIMESTAMP = "datetime64[ns, UTC]"
STRING_LIST = "list<string>"

BUILDS: dict[str, str] = {
    "build_id": STRING,
    "run_id": STRING,
    "engine": STRING,
    "engine_version": STRING,
    "strategy": STRING,
    "profile": STRING,
    "flags": STRING,
    "dockerfile_id": STRING,
    "target": STRING,
    "scenario": STRING,
    "step": INT,
    "repeat": INT,
    "started_at": TIMESTAMP,
    "wall_s": FLOAT,
    "outcome": STRING,
    "error": STRING,
    "image_digest": STRING,
    "image_content_digest": STRING,
    "transparent": BOOL,
    "bytes_downloaded": INT,
    "bytes_unpacked": INT,
    "bytes_pushed": INT,
    "stages_total": INT,
    "stages_built": INT,
    "stages_eliminated": INT,
    # Stages merged into their only child, and stages not needed for the target.
    # The four stage counts add up to `stages_total`.
    "stages_squashed": INT,
    "stages_unused": INT,
    "cache_hits": INT,
    "cache_misses": INT,
    # Cache lookups and pushes that failed (see `CACHE_OPERATION_PHASES`). The
    # build went on without them, so `outcome` can be "ok" while this is above 0.
    "cache_failures": INT,
    "host": STRING,
    "cpu_count": INT,
    "python_version": STRING,
}

# Stage phase columns and the span phases summed into each of them.
PHASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "resolve_s": ("resolve-base",),
    "download_s": ("download",),
    "unpack_s": ("unpack",),
    "hash_s": ("hash-context",),
    "probe_s": ("probe-cache",),
    "execute_s": ("execute",),
    "snapshot_s": ("snapshot",),
    "push_s": ("push-layer", "push-pointer", "push-image"),
    "save_s": ("save-stage", "save-files"),
}

# Byte columns and the span phases whose `bytes` are summed into each of them.
# `bytes_pushed` counts the layer blobs pushed to the cache and the whole output
# image. A pointer entry has no layer, so its `push-pointer` span adds nothing
# to it and carries NA bytes because the size of its manifest is not measured.
BYTE_COLUMNS: dict[str, tuple[str, ...]] = {
    "bytes_downloaded": ("download",),
    "bytes_unpacked": ("unpack",),
    "bytes_pushed": ("push-layer", "push-image"),
}

# Engines that open a span with its byte count for every download, unpack and
# push they make: cachelab's builder and the model. For their finished builds a
# row without such spans moved nothing, so its byte columns are 0, and a span
# without a byte count (a failed push) makes its rows NA. For other engines, such
# as ingested logs, a byte column is NA for every row of a build unless some span
# of that build reports bytes for the column's phases.
BYTE_COUNTING_ENGINES = frozenset({"cachelab", "model"})

# Engines that open a span for every phase of work they do: cachelab's builder
# and the model. In their finished builds, a stage or instruction without spans
# of a phase spent no time on it, so its time column is 0. Examples are a stage
# that lookahead eliminated and a stage whose instructions all hit (no execute,
# snapshot or push). For other engines a time column is NA for every row of a
# build unless some span of that build has the column's phases.
PHASE_TIMING_ENGINES = frozenset({"cachelab", "model"})

# Span phases of the cache operations counted in `cache_failures` (see
# `cachelab.events.failures`).
CACHE_OPERATION_PHASES = FAILURE_PHASES

# Engines whose spans mark every failed cache operation: cachelab's builder, and
# the model, which simulates no failure. Their finished builds get a count, 0
# included. For other engines `cache_failures` is NA unless a span marks a failure.
CACHE_FAILURE_ENGINES = frozenset({"cachelab", "model"})

# Spans of these phases contain other spans. Their length is the wall time of the
# build, stage or instruction they belong to.
CONTAINER_PHASES = ("build", "stage", "instruction")

# Key stability across the steps of a scenario, against the same stage or instruction
# one step earlier (`cachelab.study.stability` fills them; NA elsewhere).
STABILITY: dict[str, str] = {
    "key_changed": BOOL,
    "key_change_expected": BOOL,
    "key_change_part": STRING,
    "decision_flipped": BOOL,
}

# Columns added by each schema version after 1, by table, for the upgrade steps.
ADDED_IN: dict[int, dict[str, tuple[str, ...]]] = {
    2: {
        "builds": ("image_content_digest", "transparent"),
        "stages": tuple(STABILITY),
        "instructions": (*STABILITY, "key_parts"),
    },
    3: {
        "stages": ("squashed_into",),
        "spans": ("attributes",),
    },
    # Version 4 adds no column: it writes 0 where the byte counting engines moved nothing.
    4: {},
    5: {
        "builds": ("stages_squashed", "stages_unused"),
        "instructions": ("origin_stage_index", "origin_instruction_index"),
    },
    6: {
        "builds": ("cache_failures",),
    },
    # Version 7 adds no column: it writes 0 seconds where the phase timing engines ran no such phase.
    7: {},
}

STAGES: dict[str, str] = {
    "build_id": STRING,
    "stage_index": INT,
    "stage_name": STRING,
    "base": STRING,
    "base_kind": STRING,
    "action": STRING,
    # Index of the stage that absorbed this one when `action` is "squashed".
    "squashed_into": INT,
    "unpacked": BOOL,
    "final_key": STRING,
    "key_a_priori": BOOL,
    "key_blockers": STRING_LIST,
    "key_risks": STRING_LIST,
    **STABILITY,
    "wall_s": FLOAT,
    **{column: FLOAT for column in PHASE_COLUMNS},
    "bytes_downloaded": INT,
    "bytes_unpacked": INT,
    "bytes_pushed": INT,
    "requests": INT,
    "instructions": INT,
    "cache_hits": INT,
    "cache_misses": INT,
}

INSTRUCTIONS: dict[str, str] = {
    "build_id": STRING,
    "stage_index": INT,
    "instruction_index": INT,
    # The stage the instruction is written in and its position among that stage's
    # instructions (ONBUILD triggers first). Unlike `stage_index` and
    # `instruction_index`, the executed position, they stay the same when a build
    # squashes the stage into its child. NA when the source does not report them.
    "origin_stage_index": INT,
    "origin_instruction_index": INT,
    "line": INT,
    "instruction": STRING,
    "kind": STRING,
    "cache_key": STRING,
    "key_source": STRING,
    "redirect_key": STRING,
    "probed": BOOL,
    "decision": STRING,
    "a_priori": BOOL,
    **STABILITY,
    "wall_s": FLOAT,
    "bytes_downloaded": INT,
    "bytes_unpacked": INT,
    "bytes_pushed": INT,
    "requests": INT,
    "files_hashed": INT,
    "bytes_hashed": INT,
    "key_parts": STRING_LIST,
}

SPANS: dict[str, str] = {
    "build_id": STRING,
    "span_id": STRING,
    "parent_id": STRING,
    "phase": STRING,
    "stage_index": INT,
    "instruction_index": INT,
    "start_s": FLOAT,
    "end_s": FLOAT,
    # Bytes the span moved: 0 when it moved none, NA when the source does not measure its phase.
    "bytes": INT,
    "requests": INT,
    # The span's attributes as a JSON object with sorted keys, NA when it has none.
    "attributes": STRING,
}

TABLES: dict[str, dict[str, str]] = {
    "builds": BUILDS,
    "stages": STAGES,
    "instructions": INSTRUCTIONS,
    "spans": SPANS,
}

# Columns that identify one row of each table. Loading rejects a table where two rows
# share these values.
KEYS: dict[str, tuple[str, ...]] = {
    "builds": ("build_id",),
    "stages": ("build_id", "stage_index"),
    "instructions": ("build_id", "stage_index", "instruction_index"),
    "spans": ("build_id", "span_id"),
}

# Columns that identify the same stage or instruction in different builds of one
# Dockerfile (`builds.dockerfile_id`). Join two builds' rows on these: a squashed
# stage moves its instructions to the child's `stage_index` and shifts the
# child's `instruction_index`, but not these. Loading requires them to be unique
# within a build, among the rows where none of them is NA.
STABLE_KEYS: dict[str, tuple[str, ...]] = {
    "stages": ("stage_index",),
    "instructions": ("origin_stage_index", "origin_instruction_index"),
}

# Values allowed in the columns with a closed vocabulary, besides NA. Loading
# accepts any `engine`, `strategy` and span `phase`, because ingesters and later
# strategies add their own names.
VOCABULARIES: dict[str, dict[str, frozenset[str]]] = {
    "builds": {"outcome": frozenset({"ok", "error"})},
    "stages": {
        "action": frozenset({"built", "eliminated", "squashed", "unused"}),
        "base_kind": frozenset({"image", "stage", "scratch"}),
    },
    "instructions": {
        "decision": frozenset({"hit", "miss", "not-probed", "unkeyed", "skipped"}),
        "key_source": frozenset({"content", "inferred", "text"}),
    },
    "spans": {},
}

# Span columns that are instants relative to the build start, not durations.
# Loading checks only that `end_s >= start_s`.
SPAN_INSTANTS = ("start_s", "end_s")

# Columns that loading rejects when negative: every count, index, byte count and duration.
NON_NEGATIVE: dict[str, tuple[str, ...]] = {
    table: tuple(
        column
        for column, kind in columns.items()
        if kind == INT or (kind == FLOAT and not (table == "spans" and column in SPAN_INSTANTS))
    )
    for table, columns in TABLES.items()
}


def pandas_dtype(name: str) -> object:
    """Return the pandas dtype for a schema type name."""
    if name == STRING_LIST:
        return pd.ArrowDtype(pa.list_(pa.string()))
    return pd.api.types.pandas_dtype(name)


def empty_table(table: str) -> pd.DataFrame:
    """Return a table with no rows and every column of `table` in its dtype."""
    columns = TABLES[table]
    return pd.DataFrame(
        {name: pd.Series([], dtype=pandas_dtype(kind)) for name, kind in columns.items()}
    )


def table_from_rows(table: str, rows: list[dict[str, object]]) -> pd.DataFrame:
    """Build `table` from row dicts, with NA for each column a row lacks."""
    columns = {name: [row.get(name) for row in rows] for name in TABLES[table]}
    return table_from_columns(table, columns, len(rows))


def table_from_columns(
    table: str, columns: Mapping[str, Sequence[object]], length: int
) -> pd.DataFrame:
    """Build `table` from one list of `length` values per column, with NA for each column left out.

    Raises `ValueError` when a column is not in `table` or its list has another length.
    """
    kinds = TABLES[table]
    unknown = sorted(set(columns) - set(kinds))
    if unknown:
        raise ValueError(f"table {table!r} has no column {unknown[0]!r}")

    data = {}
    for name, kind in kinds.items():
        values = columns.get(name)
        if values is None:
            values = [None] * length
        elif len(values) != length:
            raise ValueError(
                f"column {name!r} of table {table!r} has {len(values)} values, expected {length}"
            )
        data[name] = pd.Series(values, dtype=pandas_dtype(kind), name=name)
    return pd.DataFrame(data, columns=list(kinds))
