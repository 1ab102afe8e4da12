"""The recording that `cachelab study --calibrate DIR` fits the model's costs to.

Calibration needs measured builds, so DIR must be a recording that `cachelab
build --record DIR` or `cachelab compare --out DIR` wrote. A study folder also
contains parquet tables (and a recording of modelled builds in `model/`), so it
is named as such, because the generic "no builds.parquet" message does not say
what went wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cachelab.errors import CachelabError
from cachelab.record.errors import RecordError

if TYPE_CHECKING:
    from cachelab.record import Recording

RECORD_HINT = (
    "Record measured builds with `cachelab build --record DIR` (or `cachelab compare --out DIR`) "
    "and pass that DIR to --calibrate."
)
# A finished study always writes this table, and a recording never does.
STUDY_MARKER = "files.parquet"


def load_calibration_recording(directory: Path) -> Recording:
    """Load the recording in `directory` for calibration.

    Raises CachelabError for a missing path, a study folder, or a directory
    without a recording, and re-raises a RecordError of an incomplete or
    invalid recording with a hint that names `cachelab build --record`.
    """
    from cachelab.record import Recording

    if not directory.is_dir():
        raise CachelabError(f"--calibrate {directory}: recording directory not found", hint=RECORD_HINT)
    if (directory / STUDY_MARKER).is_file():
        raise CachelabError(
            f"--calibrate {directory}: this is a study folder written by `cachelab study`, not a recording",
            hint="A study's builds are modelled, not measured. " + RECORD_HINT,
        )
    if not (directory / "builds.parquet").is_file():
        raise CachelabError(
            f"--calibrate {directory}: the directory contains no recording (no builds.parquet)",
            hint=RECORD_HINT,
        )
    try:
        return Recording.load(directory)
    except RecordError as exc:
        raise CachelabError(f"--calibrate {directory}: {exc}", hint=RECORD_HINT) from exc
