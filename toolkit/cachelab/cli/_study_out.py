"""The --out directory of `cachelab study`: which files are a study's, and when a new study may replace them.

A study writes into a staging directory inside --out (see `cachelab.cli._staging`)
and moves its outputs into --out only once it has finished.
"""

from __future__ import annotations

from pathlib import Path

from cachelab.cli._staging import replace_outputs
from cachelab.cli.build import check_record_directory, recording_files
from cachelab.errors import CachelabError

# Name prefix of the directory inside --out that contains a study's outputs until it has finished.
STAGING_PREFIX = ".cachelab-study-"
# The file that every study writes last, so its presence marks a finished study.
REPORT = "report.txt"
# Files and directories a study writes into --out, as glob patterns.
STUDY_OUTPUTS = (
    "files.parquet", "stages.parquet", "model", "headline.parquet", "summary.parquet", "report.txt",
    "direction.parquet", "replay", "replay-errors.parquet", "savings-*.png", "eliminated.png", "blockers.png",
)
# The layout store of twin base images below --out. Replay writes it in place,
# not in the staging directory, because it is a cache that later replays reuse,
# failed ones included.
TWIN_IMAGES = Path("work") / "images"


def study_outputs(directory: Path) -> list[Path]:
    """Return the files and directories in `directory` that are named like a study's outputs."""
    return [path for pattern in STUDY_OUTPUTS for path in sorted(directory.glob(pattern))]


def check_study_out(out: Path, *, force: bool) -> None:
    """Raise CachelabError when a study cannot write into `out`, before any work.

    `out` must be a directory, or a path where one can be created, and
    writable. Unless `force` is on, it must not contain an earlier study, a
    recording, or other files named like a study's outputs, because the new
    study would replace them. Other files, and the twin base images, are
    allowed, and a study never touches them.
    """
    # With force on, this checks only that `out` is, or can become, a writable directory.
    check_record_directory(out, force=True, option="--out")
    if force:
        return

    found = study_outputs(out)
    names = ", ".join(path.name for path in found)
    # Every study writes files.parquet, so it marks an earlier study.
    if out / "files.parquet" in found:
        raise CachelabError(
            f"--out {out} already contains a study ({names})",
            hint="Pass a new directory, or add --force to replace that study once the new one has finished.",
        )
    # A recording shares stages.parquet with a study, so it gets the message of `build --record`.
    check_record_directory(out, force=False, option="--out")
    if found:
        raise CachelabError(
            f"--out {out} already contains files that a study writes ({names})",
            hint="Pass a new directory, or add --force to replace them once the study has finished.",
        )


def replace_study(staging: Path, out: Path) -> None:
    """Move the finished study in `staging` into `out`, and delete the earlier study or recording in `out`."""
    earlier = [*study_outputs(out), *recording_files(out)]
    # The report goes first and comes back last, so a crash during the moves
    # leaves a mix of old and new files that does not look like a finished study.
    (out / REPORT).unlink(missing_ok=True)
    new = sorted(study_outputs(staging), key=lambda path: path.name == REPORT)
    replace_outputs(new, out, earlier=earlier)
