"""Warnings for comparison groups that likely pool builds of different Dockerfiles.

Groups are keyed by `dockerfile_id`, which ingested builds often lack (NA) or
share. A kaniko trace names the Dockerfile's path inside the kaniko container,
usually /kaniko/Dockerfile, whatever Dockerfile it was. Such a group's median
mixes the timings of unrelated builds, so these warnings name the builds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from cachelab.record import Recording

logger = logging.getLogger(__name__)

# Build ids a warning lists before it gives only a count of the others.
LISTED_BUILDS = 4


def warn_on_pooled_dockerfiles(
    name: str, recording: Recording, columns: Sequence[str], *, step: int | None = None
) -> None:
    """Log a warning per group of successful builds that likely mixes Dockerfiles.

    A group of two or more builds is named when its dockerfile_id is NA, or when
    its builds differ in stage count or commands. `columns` are the group
    columns, `dockerfile_id` first. The stage count of a build is one more than
    its highest stage index in the stages and instructions tables, so a stage
    without rows, such as an eliminated stage in a trace read without its log,
    still counts. Two builds differ in their commands when they have different
    instruction texts at the same stage and instruction index. Only positions
    that both builds have rows for are compared, because a build that skips
    cached or eliminated stages records fewer rows.
    """
    builds = recording.builds[recording.builds["outcome"] == "ok"]
    if step is not None:
        builds = builds[builds["step"].eq(step).fillna(False).astype(bool)]
    for key, frame in builds.groupby(list(columns), dropna=False, sort=True):
        build_ids = [str(build_id) for build_id in frame["build_id"]]
        if len(build_ids) < 2:
            continue
        group = ", ".join("-" if pd.isna(part) else str(part) for part in key)
        if pd.isna(key[0]):
            logger.warning(
                "%s builds of group (%s) have no dockerfile_id, so builds of different Dockerfiles may be "
                "pooled: %s. Ingest each Dockerfile's builds with `cachelab ingest ENGINE FILE... "
                "--dockerfile-id ID`",
                name, group, _list(build_ids),
            )
        difference = _first_difference(recording, build_ids)
        if difference is not None:
            logger.warning(
                "%s builds of group (%s) likely come from different Dockerfiles, because %s, so the group "
                "may pool unrelated builds. Ingest each Dockerfile's builds with `cachelab ingest ENGINE FILE... "
                "--dockerfile-id ID`",
                name, group, difference,
            )


def _first_difference(recording: Recording, build_ids: list[str]) -> str | None:
    counts = _stage_counts(recording, build_ids)
    if counts.nunique() > 1:
        by_count = counts.groupby(counts, sort=True)
        parts = [f"{_list(list(ids.index))} {'has' if len(ids) == 1 else 'have'} {count} stages"
                 for count, ids in by_count]
        return "; ".join(parts)

    instructions = recording.instructions
    instructions = instructions[instructions["build_id"].isin(build_ids)]
    for position, rows in instructions.groupby(["stage_index", "instruction_index"], sort=True):
        texts = rows.drop_duplicates("instruction")
        if len(texts) > 1:
            first, second = texts.iloc[0], texts.iloc[1]
            return (
                f"instruction {position[1]} of stage {position[0]} is `{first['instruction']}` in build "
                f"{first['build_id']} and `{second['instruction']}` in build {second['build_id']}"
            )
    return None


def _stage_counts(recording: Recording, build_ids: list[str]) -> pd.Series:
    indexes = pd.concat(
        [
            recording.stages.loc[recording.stages["build_id"].isin(build_ids), ["build_id", "stage_index"]],
            recording.instructions.loc[recording.instructions["build_id"].isin(build_ids), ["build_id", "stage_index"]],
        ],
        ignore_index=True,
    )
    highest = indexes.groupby("build_id")["stage_index"].max()
    # A build without any stage or instruction row has no stage count, so it is left out.
    return (highest.dropna().astype(int) + 1).sort_index()


def _list(build_ids: list[str]) -> str:
    listed = ", ".join(build_ids[:LISTED_BUILDS])
    rest = len(build_ids) - LISTED_BUILDS
    return f"{listed} and {rest} more" if rest > 0 else listed
