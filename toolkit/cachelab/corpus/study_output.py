"""Streamed outputs of a corpus study: Parquet tables written chunk by chunk.

A corpus of 100k Dockerfiles gives millions of stage rows and model events, so
nothing is kept for the whole corpus. Every `PART_FILES` files become one
`StudiedPart`: its file and stage rows as Arrow tables, and the model's four
tables saved as one recording directory `model/part-NNNNN`. `write_part` does
that work, so a worker process can do it too (see
`cachelab.corpus.study_parallel`), and `StudyWriter` appends the parts' rows to
`files.parquet` and `stages.parquet`. Only the builds table of each part is
kept in memory, for the summary.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cachelab.corpus.study import FileStudy
from cachelab.dockerfile.layer_warnings import DockerfileWarning
from cachelab.record import Recording

logger = logging.getLogger(__name__)

# Files per part. A part's model events (about 170 per file on real-v1) are held
# in memory until its tables are built, in a worker or in the writer.
PART_FILES = 256
DEFAULT_CHUNK_FILES = PART_FILES

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


@dataclass(slots=True)
class StudiedPart:
    """The outputs of a run of consecutive file studies, its model recording already saved.

    `builds` is the builds table of the saved recording (None when no study of
    the part recorded events). `unhashed_bind_mounts` maps a Dockerfile id to
    its count of RUN bind mounts kaniko leaves out of the key. `warnings`
    lists each file's Dockerfile warnings, in file order. Both contain only
    the files that have any.
    """

    files: pa.Table
    stages: pa.Table
    builds: pd.DataFrame | None = None
    unhashed_bind_mounts: dict[str, int] = field(default_factory=dict)
    warnings: list[tuple[str, list[DockerfileWarning]]] = field(default_factory=list)

    @property
    def file_count(self) -> int:
        return self.files.num_rows


def part_directory(model_dir: Path, index: int) -> Path:
    """Return the recording directory of part `index` below `model_dir` (`part-00012`)."""
    return model_dir / f"part-{index:05d}"


def write_part(studies: Sequence[FileStudy], model_dir: Path, index: int) -> StudiedPart:
    """Build the tables of `studies` and save their model recording as part `index` of `model_dir`.

    No directory is written when no study recorded events.
    """
    stage_rows = [row for study in studies for row in study.stage_rows]
    part = StudiedPart(
        files=pa.Table.from_pylist([study.file_row for study in studies], schema=FILE_SCHEMA),
        stages=pa.Table.from_pylist(stage_rows, schema=STAGE_SCHEMA),
        unhashed_bind_mounts={
            study.dockerfile_id: study.unhashed_bind_mounts for study in studies if study.unhashed_bind_mounts
        },
        warnings=[(study.dockerfile_id, study.warnings) for study in studies if study.warnings],
    )
    events = [event for study in studies for event in study.events]
    if events:
        recording = Recording.from_events(events)
        recording.save(part_directory(model_dir, index))
        part.builds = recording.builds
    return part


class StudyWriter:
    """Appends studied parts, or file studies `chunk_files` at a time, to Parquet files in `out`.

    Use either `add` or `add_part` on one writer, because both number the
    parts below `out/model` (`add_part` takes the numbers the parts were
    written with).
    """

    def __init__(self, out: Path, *, chunk_files: int = DEFAULT_CHUNK_FILES) -> None:
        self.out = out
        self.model_dir = out / "model"
        self.chunk_files = chunk_files
        out.mkdir(parents=True, exist_ok=True)
        # Parts of an earlier, larger study in `out` would otherwise be read back with these.
        for stale in sorted(self.model_dir.glob("part-*")):
            logger.info("removing %s of an earlier study", stale)
            shutil.rmtree(stale)
        self._files = pq.ParquetWriter(out / "files.parquet", FILE_SCHEMA)
        self._stages = pq.ParquetWriter(out / "stages.parquet", STAGE_SCHEMA)
        self._pending: list[FileStudy] = []
        self._parts = 0
        self.builds: list[pd.DataFrame] = []
        self.files_written = 0
        # Dockerfile id -> RUN bind mounts kaniko leaves out of the key, for files with any.
        self.unhashed_bind_mounts: dict[str, int] = {}

    def add(self, study: FileStudy) -> None:
        self._pending.append(study)
        if len(self._pending) >= self.chunk_files:
            self.flush()

    def flush(self) -> None:
        """Write the studies buffered by `add` as one part; a no-op when nothing is buffered."""
        if not self._pending:
            return
        part = write_part(self._pending, self.model_dir, self._parts)
        self._pending = []
        self._parts += 1
        self.add_part(part)

    def add_part(self, part: StudiedPart) -> None:
        """Append the rows of a part that `write_part` made, and keep its builds table."""
        self._files.write_table(part.files)
        if part.stages.num_rows:
            self._stages.write_table(part.stages)
        if part.builds is not None:
            self.builds.append(part.builds)
        self.unhashed_bind_mounts.update(part.unhashed_bind_mounts)
        self.files_written += part.file_count
        logger.info("wrote %d studied files to %s", self.files_written, self.out)

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


def read_study(
    out: Path, *, file_columns: Sequence[str] | None = None, stage_columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the file and stage tables a StudyWriter wrote into `out`, only the given columns if any."""
    files = pd.read_parquet(out / "files.parquet", columns=_column_list(file_columns))
    stages = pd.read_parquet(out / "stages.parquet", columns=_column_list(stage_columns))
    return files, stages


def _column_list(columns: Sequence[str] | None) -> list[str] | None:
    return list(columns) if columns is not None else None


def load_model_recording(out: Path) -> Recording:
    """Load and join every `model/part-*` recording of a study output directory."""
    from cachelab.record import concat

    parts = sorted((out / "model").glob("part-*"))
    return concat(Recording.load(part) for part in parts) if parts else Recording.empty()
