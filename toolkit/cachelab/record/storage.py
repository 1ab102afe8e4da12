"""Save the four tables as Parquet files and load them back, upgrading old layouts.

A recording directory contains `builds.parquet`, `stages.parquet`,
`instructions.parquet` and `spans.parquet`. Each file's key-value metadata stores
the schema version, the table name and the environments the builds ran in (JSON).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cachelab.record import schema, validation
from cachelab.record.cache_failures import failures_from_spans
from cachelab.record.errors import InvalidRecordingError, RecordError, SchemaVersionError
from cachelab.record.origins import fill_origins

logger = logging.getLogger(__name__)

VERSION_KEY = b"cachelab.schema_version"
# The same version under the plain name that the schema documents for every
# engine's saved tables, so readers that do not know cachelab find it too.
PLAIN_VERSION_KEY = b"schema_version"
TABLE_KEY = b"cachelab.table"
ENVIRONMENTS_KEY = b"cachelab.environments"

Tables = dict[str, pd.DataFrame]
Upgrade = Callable[[Tables], Tables]

# Upgrade steps by the version they read: UPGRADES[n] turns version-n tables into
# version n + 1. Loading applies the steps in order up to SCHEMA_VERSION.
UPGRADES: dict[int, Upgrade] = {}


def _add_columns(version: int) -> Upgrade:
    # An upgrade step that adds the columns of `version` as NA; `coerce_table` sets their dtypes.
    def upgrade(tables: Tables) -> Tables:
        for name, columns in schema.ADDED_IN[version].items():
            for column in columns:
                if column not in tables[name].columns:
                    tables[name][column] = pd.Series([None] * len(tables[name]), dtype=object)
        return tables

    return upgrade


def register_upgrade(from_version: int) -> Callable[[Upgrade], Upgrade]:
    """Register a function that turns tables of `from_version` into the next version."""

    def register(function: Upgrade) -> Upgrade:
        UPGRADES[from_version] = function
        return function

    return register


# Version 2 added the image content digest, the cache transparency and key stability
# columns and the recorded key parts.
UPGRADES[1] = _add_columns(2)
# Version 3 added the stage a squashed stage was merged into and the span attributes.
UPGRADES[2] = _add_columns(3)


@register_upgrade(3)
def _zero_bytes_moved_nothing(tables: Tables) -> Tables:
    """Write 0 where a finished build of a byte counting engine moved nothing (version 4).

    Version 3 left a byte column NA for every row of a build that had no span of
    the column's phases. For `schema.BYTE_COUNTING_ENGINES` that means nothing
    moved. A build with a span of unknown size in those phases keeps its values.
    """
    builds, spans = tables["builds"], tables["spans"]
    counting = builds["engine"].isin(schema.BYTE_COUNTING_ENGINES) & builds["outcome"].notna()
    for column, phases in schema.BYTE_COLUMNS.items():
        unknown = spans.loc[spans["phase"].isin(phases) & spans["bytes"].isna(), "build_id"]
        known = set(builds.loc[counting, "build_id"]) - set(unknown)
        for name in ("builds", "stages", "instructions"):
            table = tables[name]
            rows = table["build_id"].isin(known) & table[column].isna()
            table.loc[rows, column] = 0
    return tables


@register_upgrade(4)
def _count_stages_and_origins(tables: Tables) -> Tables:
    """Add the squashed and unused stage counts and the instructions' stages as written (version 5).

    A build without stage rows keeps NA counts, as `tables_from_events` gives it.
    Version 4 did not record where an instruction is written, so `fill_origins`
    leaves it NA in builds that squashed a stage.
    """
    builds, stages = tables["builds"], tables["stages"]
    has_stages = builds["build_id"].isin(stages["build_id"])
    for action, column in (("squashed", "stages_squashed"), ("unused", "stages_unused")):
        counts = stages.loc[stages["action"] == action].groupby("build_id").size()
        builds[column] = builds["build_id"].map(counts).fillna(0).where(has_stages)
    instructions = tables["instructions"]
    instructions["origin_stage_index"] = pd.Series([None] * len(instructions), dtype="Int64")
    tables["instructions"] = fill_origins(instructions, stages)
    return tables


@register_upgrade(5)
def _count_cache_failures(tables: Tables) -> Tables:
    """Add each build's count of failed cache operations, read from its spans (version 6)."""
    tables["builds"]["cache_failures"] = failures_from_spans(tables["builds"], tables["spans"])
    return tables


@register_upgrade(6)
def _zero_phases_not_run(tables: Tables) -> Tables:
    """Write 0 seconds where a finished build of a phase timing engine ran no such phase (version 7).

    Version 6 left a time column NA for every row of a build that had no span of
    the column's phases, such as `execute_s` of a build whose instructions all
    hit. For `schema.PHASE_TIMING_ENGINES` that means no time was spent.
    """
    builds = tables["builds"]
    timing = builds["engine"].isin(schema.PHASE_TIMING_ENGINES) & builds["outcome"].notna()
    finished = set(builds.loc[timing, "build_id"])
    columns = {"stages": ["wall_s", *schema.PHASE_COLUMNS], "instructions": ["wall_s"]}
    for name, time_columns in columns.items():
        table = tables[name]
        in_finished = table["build_id"].isin(finished)
        for column in time_columns:
            table.loc[in_finished & table[column].isna(), column] = 0.0
    return tables


def save_tables(tables: Tables, environments: list[dict[str, object]], directory: Path) -> None:
    """Write each table to `directory/<name>.parquet`, replacing earlier files atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    metadata = {
        VERSION_KEY: str(schema.SCHEMA_VERSION).encode(),
        PLAIN_VERSION_KEY: str(schema.SCHEMA_VERSION).encode(),
        ENVIRONMENTS_KEY: json.dumps(environments, sort_keys=True).encode(),
    }
    for name in schema.TABLES:
        arrow_table = pa.Table.from_pandas(tables[name], preserve_index=False)
        # The pandas metadata would name the list columns' dtype "list<item: string>[pyarrow]",
        # which pyarrow 26.0 with pandas 3.1 fails to read back. It is dropped, and
        # `coerce_table` restores every dtype from the schema on load.
        arrow_table = arrow_table.replace_schema_metadata({**metadata, TABLE_KEY: name.encode()})
        _write_atomically(arrow_table, directory / f"{name}.parquet")
    logger.info("saved recording of %d builds to %s", len(tables["builds"]), directory)


def _write_atomically(arrow_table: pa.Table, path: Path) -> None:
    # `tempfile.mkstemp` would create the file with mode 0600. Opening it with 0666
    # lets the process umask set the mode, as for every other output file.
    temporary = path.with_name(f".{path.stem}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            pq.write_table(arrow_table, handle)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_tables(directory: Path) -> tuple[Tables, list[dict[str, object]]]:
    """Read the four tables from `directory`, upgrading them to the current schema.

    Raises `RecordError` for a missing, unreadable or mislabelled file,
    `SchemaVersionError` for a version without an upgrade step, and
    `InvalidRecordingError` listing every rule of the schema the tables break.
    """
    if not directory.is_dir():
        raise RecordError(
            f"recording directory not found: {directory}",
            hint="Pass a directory written by Recording.save.",
        )
    raw: Tables = {}
    versions: dict[str, int] = {}
    environments: list[dict[str, object]] = []
    for name in schema.TABLES:
        path = directory / f"{name}.parquet"
        if not path.is_file():
            raise RecordError(
                f"recording {directory} has no {path.name}",
                hint="Save the recording again, because a recording needs all four tables.",
            )
        arrow_table = _read_parquet(path)
        metadata = arrow_table.schema.metadata or {}
        versions[name] = _schema_version(path, metadata)
        _check_table_name(path, name, metadata)
        if name == "builds" and ENVIRONMENTS_KEY in metadata:
            environments = _environments(path, metadata[ENVIRONMENTS_KEY])
        raw[name] = _to_pandas(arrow_table)

    if len(set(versions.values())) != 1:
        raise RecordError(
            f"tables of {directory} have different schema versions: {versions}",
            hint="Save the whole recording again with one cachelab version.",
        )
    version = versions["builds"]
    tables = upgrade_tables(raw, version, source=str(directory))
    paths = {name: str(directory / f"{name}.parquet") for name in tables}
    coerced = {name: coerce_table(name, table, source=paths[name]) for name, table in tables.items()}
    problems = [
        problem
        for name, table in coerced.items()
        for problem in validation.table_problems(name, table, path=paths[name])
    ]
    if problems:
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        raise InvalidRecordingError(
            f"recording {directory} is invalid ({count}):\n" + "\n".join(f"  {p}" for p in problems),
            problems,
            hint="Fix or remove the listed rows, or record the builds again.",
        )
    return coerced, environments


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        # pyarrow raises ArrowInvalid for a truncated file or one that is not Parquet.
        raise RecordError(
            f"cannot read {path} as Parquet: {str(exc).strip()}",
            hint="Save or copy the recording again, because the file is damaged or truncated.",
        ) from exc


def _check_table_name(path: Path, name: str, metadata: dict[bytes, bytes]) -> None:
    # A file renamed or copied over another table's name would load as the wrong table.
    recorded = metadata.get(TABLE_KEY)
    if recorded == name.encode():
        return
    found = "no table name" if recorded is None else f"table {recorded.decode(errors='replace')!r}"
    raise RecordError(
        f"{path} has {found} in its {TABLE_KEY.decode()} metadata, expected {name!r}",
        hint=f"Put the {name} table written by Recording.save at {path.name}.",
    )


def _environments(path: Path, value: bytes) -> list[dict[str, object]]:
    try:
        environments = json.loads(value)
    except ValueError as exc:  # JSONDecodeError or UnicodeDecodeError
        raise RecordError(
            f"invalid JSON in the {ENVIRONMENTS_KEY.decode()} metadata of {path}: {exc}",
            hint="Save the recording again with Recording.save, which writes that metadata.",
        ) from exc
    if not isinstance(environments, list) or not all(isinstance(item, dict) for item in environments):
        raise RecordError(
            f"the {ENVIRONMENTS_KEY.decode()} metadata of {path} is not a JSON list of objects",
            hint="Save the recording again with Recording.save, which writes that metadata.",
        )
    return environments


def upgrade_tables(tables: Tables, version: int, *, source: str) -> Tables:
    """Apply the registered upgrade steps from `version` to the current schema."""
    if version > schema.SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{source} has schema version {version}, newer than {schema.SCHEMA_VERSION}",
            hint="Upgrade cachelab to read recordings written by a newer version.",
        )
    while version < schema.SCHEMA_VERSION:
        step = UPGRADES.get(version)
        if step is None:
            raise SchemaVersionError(
                f"{source} has schema version {version} and no upgrade step reads it",
                hint="Record the builds again with this cachelab version.",
            )
        logger.info("upgrading %s from schema version %d", source, version)
        tables = step(tables)
        version += 1
    return tables


def coerce_table(name: str, table: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Return `table` with the schema's columns in order and dtype, extra columns last."""
    columns = schema.TABLES[name]
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise RecordError(
            f"{name} table of {source} lacks columns: {', '.join(missing)}",
            hint="Register an upgrade step for the older layout or record again.",
        )
    coerced = {}
    for column, kind in columns.items():
        try:
            coerced[column] = _coerce_column(table[column], kind)
        except (ValueError, TypeError) as exc:
            raise RecordError(
                f"column {column} of {source} cannot be read as {kind}: {exc}",
                hint="Fix the column's values or record the builds again.",
            ) from exc
    extra = [column for column in table.columns if column not in columns]
    frame = pd.DataFrame(coerced, columns=list(columns))
    for column in extra:
        frame[column] = table[column].reset_index(drop=True)
    return frame


def _coerce_column(series: pd.Series, kind: str) -> pd.Series:
    dtype = schema.pandas_dtype(kind)
    if series.dtype == dtype:
        return series.reset_index(drop=True)
    if kind == schema.STRING_LIST:
        values = [None if value is None else [str(item) for item in value] for value in series]
        return pd.Series(values, dtype=dtype, name=series.name)
    return series.astype(dtype).reset_index(drop=True)


def _schema_version(path: Path, metadata: dict[bytes, bytes]) -> int:
    value = metadata.get(VERSION_KEY, metadata.get(PLAIN_VERSION_KEY))
    if value is None:
        raise SchemaVersionError(
            f"{path} has no {VERSION_KEY.decode()} in its Parquet metadata",
            hint="Only files written by Recording.save can be loaded.",
        )
    try:
        return int(value)
    except ValueError:
        raise SchemaVersionError(
            f"{path} has an invalid schema version {value.decode(errors='replace')!r}",
            hint="Only files written by Recording.save can be loaded.",
        ) from None


def _to_pandas(arrow_table: pa.Table) -> pd.DataFrame:
    # Nullable dtypes straight from Arrow, so integers with gaps never pass through float.
    mapping = {
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.string(): pd.StringDtype(),
        pa.large_string(): pd.StringDtype(),
    }
    columns = {}
    for field in arrow_table.schema:
        column = arrow_table.column(field.name)
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            columns[field.name] = pd.Series(pd.arrays.ArrowExtensionArray(column))
        else:
            columns[field.name] = column.to_pandas(types_mapper=mapping.get)
    return pd.DataFrame(columns)
