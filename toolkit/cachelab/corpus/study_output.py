"""Streamed outputs of a corpus study: Parquet tables written chunk by chunk.

A corpus of 100k Dockerfiles gives millions of stage rows and model events, so
nothing is kept for the whole corpus: every `chunk_files` files the writer
appends the file and stage rows to `files.parquet` and `stages.parquet` and
saves the model's four tables as one recording directory `model/part-NNNNN`.
Only the builds table of each part is kept in memory, for the summary.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Self

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cachelab.corpus.study import FileStudy
from cachelab.events import Event
from cachelab.record import Recording

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_FILES = 1000

FILE_SCHEMA = pa.schema([
    ("dockerfile_id", pa.string()),
    ("error", pa.string()),
    ("error_kind", pa.string()),
    ("stages", pa.int64()),
    ("multistage", pa.bool_()),
    ("live_stages", pa.int64()),
    ("built_stages", pa.int64()),
    ("max_from_chain", pa.int64()),
    ("copy_from_stage", pa.int64()),
    ("copy_from_image", pa.int64()),
    ("model_per_stage_warm_s", pa.float64()),
    ("model_lookahead_warm_s", pa.float64()),
    ("model_per_stage_warm_bytes", pa.int64()),
    ("model_lookahead_warm_bytes", pa.int64()),
    ("model_per_stage_stages_built", pa.int64()),
    ("model_lookahead_stages_built", pa.int64()),
    ("stages_eliminated", pa.int64()),
    ("model_saved_s", pa.float64()),
    ("model_saved_fraction", pa.float64()),
    ("model_saved_bytes", pa.int64()),
])

STAGE_SCHEMA = pa.schema([
    ("dockerfile_id", pa.string()),
    ("profile", pa.string()),
    ("strategy", pa.string()),
    ("mode", pa.string()),
    ("stage_index", pa.int64()),
    ("stage_name", pa.string()),
    ("base", pa.string()),
    ("base_kind", pa.string()),
    ("base_pin", pa.string()),
    ("from_chain_depth", pa.int64()),
    ("from_children", pa.int64()),
    ("copy_from_sources", pa.int64()),
    ("copy_from_consumers", pa.int64()),
    ("external_sources", pa.int64()),
    ("live", pa.bool_()),
    ("action", pa.string()),
    ("key_a_priori", pa.bool_()),
    ("key_blockers", pa.list_(pa.string())),
    ("key_risks", pa.list_(pa.string())),
])


class StudyWriter:
    """Appends file studies to Parquet files in `out`, `chunk_files` studies at a time."""

    def __init__(self, out: Path, *, chunk_files: int = DEFAULT_CHUNK_FILES) -> None:
        self.out = out
        self.chunk_files = chunk_files
        out.mkdir(parents=True, exist_ok=True)
        # Parts of an earlier, larger study in `out` would otherwise be read back with these.
        for stale in sorted((out / "model").glob("part-*")):
            logger.info("removing %s of an earlier study", stale)
            shutil.rmtree(stale)
        self._files = pq.ParquetWriter(out / "files.parquet", FILE_SCHEMA)
        self._stages = pq.ParquetWriter(out / "stages.parquet", STAGE_SCHEMA)
        self._file_rows: list[dict[str, object]] = []
        self._stage_rows: list[dict[str, object]] = []
        self._events: list[Event] = []
        self._parts = 0
        self.builds: list[pd.DataFrame] = []
        self.files_written = 0
        # Dockerfile id -> RUN bind mounts kaniko leaves out of the key, for files with any.
        self.unhashed_bind_mounts: dict[str, int] = {}

    def add(self, study: FileStudy) -> None:
        self._file_rows.append(study.file_row)
        self._stage_rows.extend(study.stage_rows)
        self._events.extend(study.events)
        if study.unhashed_bind_mounts:
            self.unhashed_bind_mounts[study.dockerfile_id] = study.unhashed_bind_mounts
        if len(self._file_rows) >= self.chunk_files:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows and events; a no-op when nothing is buffered."""
        if not self._file_rows:
            return
        self._files.write_table(pa.Table.from_pylist(self._file_rows, schema=FILE_SCHEMA))
        if self._stage_rows:
            self._stages.write_table(pa.Table.from_pylist(self._stage_rows, schema=STAGE_SCHEMA))
        if self._events:
            recording = Recording.from_events(self._events)
            recording.save(self.out / "model" / f"part-{self._parts:05d}")
            self.builds.append(recording.builds)
            self._parts += 1
        self.files_written += len(self._file_rows)
        logger.info("wrote %d studied files to %s", self.files_written, self.out)
        self._file_rows, self._stage_rows, self._events = [], [], []

    def close(self) -> None:
        self.flush()
        self._files.close()
        self._stages.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def all_builds(self) -> pd.DataFrame:
        """Return the builds tables of every part written so far, concatenated."""
        if not self.builds:
            return Recording.empty().builds
        return pd.concat(self.builds, ignore_index=True)


def read_study(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the file and stage tables a StudyWriter wrote into `out`."""
    return pd.read_parquet(out / "files.parquet"), pd.read_parquet(out / "stages.parquet")


def load_model_recording(out: Path) -> Recording:
    """Load and join every `model/part-*` recording of a study output directory."""
    from cachelab.record import concat

    parts = sorted((out / "model").glob("part-*"))
    return concat(Recording.load(part) for part in parts) if parts else Recording.empty()
