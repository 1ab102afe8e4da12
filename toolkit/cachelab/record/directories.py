"""Load the recordings of one side of a regression study, kept one per subdirectory.

`cachelab regress` pairs the builds of two sides by (dockerfile_id, scenario,
step, strategy). `cachelab build --record` writes one build per directory, with
the scenario and step of `--scenario` and `--step`, and the FILE argument as
given, in pathlib's normal form, as `dockerfile_id`, as `cachelab compare` does.
Recordings saved by earlier `build` commands carry `sha256:` and the
Dockerfile's SHA-256 instead. They still load, but pair only with recordings of
that same form.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cachelab.record.errors import RecordError
from cachelab.record.recording import Recording, concat

logger = logging.getLogger(__name__)


def has_recording(directory: Path) -> bool:
    """Return whether `directory` contains the builds table of a saved recording."""
    return (directory / "builds.parquet").is_file()


def recording_directories(directory: Path) -> list[Path]:
    """Return `directory` if it contains a recording, else its subdirectories that do, sorted by name.

    Raises `RecordError` when `directory` is missing or neither it nor any direct
    subdirectory contains a recording.
    """
    if not directory.is_dir():
        raise RecordError(
            f"recording directory not found: {directory}",
            hint="Pass a directory written by `cachelab build --record`, or a directory of such directories.",
        )
    if has_recording(directory):
        return [directory]
    found = sorted(child for child in directory.iterdir() if child.is_dir() and has_recording(child))
    if not found:
        raise RecordError(
            f"{directory} contains no recording, neither itself nor in a subdirectory",
            hint="Pass a directory written by `cachelab build --record`, or a directory of such directories.",
        )
    return found


def load_recordings(directory: str | Path) -> Recording:
    """Load the recording in `directory`, or join the recordings in its direct subdirectories.

    One `cachelab build --record` writes one build per directory, so the repeats
    of a study are kept as `DIR/<one directory per build>` and loaded together here.
    Raises `RecordError` as `recording_directories` and `concat` do.
    """
    directories = recording_directories(Path(directory))
    if len(directories) == 1 and directories[0] == Path(directory):
        return Recording.load(directory)
    logger.info("joining %d recordings found in %s", len(directories), directory)
    return concat(Recording.load(path) for path in directories)
