"""Build events to the builds, stages, instructions and spans tables, saved as Parquet.

Importing this package registers the `df.cachelab` DataFrame accessor.
"""

from __future__ import annotations

from cachelab.record import accessor as _accessor  # noqa: F401  (registers df.cachelab)
from cachelab.record.directories import load_recordings
from cachelab.record.environment import capture_environment
from cachelab.record.errors import (
    EventStreamError,
    InvalidRecordingError,
    RecordError,
    SchemaVersionError,
)
from cachelab.record.recording import Recording, concat
from cachelab.record.schema import SCHEMA_VERSION, TABLES
from cachelab.record.storage import register_upgrade
from cachelab.record.synthetic import SyntheticStage, SyntheticTimings, synthetic_build

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "EventStreamError",
    "InvalidRecordingError",
    "RecordError",
    "Recording",
    "SchemaVersionError",
    "SyntheticStage",
    "SyntheticTimings",
    "capture_environment",
    "concat",
    "load_recordings",
    "register_upgrade",
    "synthetic_build",
]
