"""Place every instruction row in the stage it is written in, so rows join across builds.

kaniko squashes a stage into its only child when nothing else uses it: the child
then runs the base stage's instructions first, under the child's `stage_index`,
and its own instructions move to later `instruction_index` values. A cold and a
warm build of one Dockerfile can therefore give one instruction different
positions. `origin_stage_index` (the stage as written) and
`origin_instruction_index` (the position among that stage's instructions) do
not change with squashing.
"""

from __future__ import annotations

import pandas as pd


def fill_origins(instructions: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    """Return `instructions` with both origin columns filled where they can be known.

    A row whose source reports no `origin_stage_index` gets its own `stage_index`
    when its build squashed no stage, because then every stage runs only its own
    instructions. In a build with a squashed stage such a row stays NA. So does
    a row whose build has no stage row for some lower index, such as a kaniko
    trace read without its log, because the stage left out may have been
    squashed into the row's stage.
    `origin_instruction_index` is the row's `instruction_index` minus the rows of
    other origins that run before it in the same stage, and NA where the origin
    stage is NA.
    """
    frame = instructions.copy()
    squashing = stages.loc[stages["action"] == "squashed", "build_id"].unique()
    below_gap = frame["stage_index"] < frame["build_id"].map(_first_missing_stage(stages))
    own_stage = frame["origin_stage_index"].isna() & ~frame["build_id"].isin(squashing) & below_gap.fillna(False)
    frame["origin_stage_index"] = frame["origin_stage_index"].mask(own_stage, frame["stage_index"])
    if frame.empty:
        frame["origin_instruction_index"] = pd.Series([], dtype="Int64")
        return frame

    ordered = frame.sort_values(["build_id", "stage_index", "instruction_index"], kind="stable")
    # Rows that run before this one in its executed stage, then those of them with the same origin.
    before = ordered.groupby(["build_id", "stage_index"], dropna=False, sort=False).cumcount()
    before_same_origin = ordered.groupby(
        ["build_id", "stage_index", "origin_stage_index"], dropna=False, sort=False
    ).cumcount()
    position = ordered["instruction_index"] - (before - before_same_origin)
    position = position.where(ordered["origin_stage_index"].notna())
    frame["origin_instruction_index"] = position.reindex(frame.index).astype("Int64")
    return frame


def _first_missing_stage(stages: pd.DataFrame) -> pd.Series:
    """Return the lowest stage index without a stage row, indexed by build_id.

    Builds without stage rows are left out.
    """
    present = stages[["build_id", "stage_index"]].dropna().drop_duplicates()
    present = present[present["stage_index"] >= 0].sort_values(["build_id", "stage_index"])
    # Distinct indices in ascending order equal their position until the first gap,
    # so the number of such matches is the lowest missing index.
    position = present.groupby("build_id", sort=False).cumcount()
    matches = (present["stage_index"] == position).groupby(present["build_id"]).sum()
    # A build whose stage rows have no usable index is missing stage 0.
    return matches.reindex(stages["build_id"].dropna().unique(), fill_value=0)
