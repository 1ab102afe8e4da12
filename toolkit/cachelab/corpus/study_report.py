"""Tables and the text report of a corpus study: file rows, stage rows and headline numbers.

The headline table is long: one row per metric (and profile where it applies),
with `mode` saying where the number comes from: `static` (the Planner's
decisions on the corpus), `model` (modelled times and bytes, see
`cachelab.model.costs`) or `measured` (builds of replayed twins, see
`cachelab.corpus.measured`). Shares are fractions between 0 and 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pandas as pd

from cachelab.corpus.study import BASE_STANDIN, FILE_PLACEHOLDER, STUDY_PROFILES, FileStudy

# Stages that have a key of their own in a profile's build (squashed or unused ones do not).
KEYED_ACTIONS = ("built", "eliminated")
TOP_REASONS = 5
# The columns of the file and stage tables that `headline` reads, so a large
# study can load only these.
HEADLINE_FILE_COLUMNS = (
    "dockerfile_id", "error", "multistage", "stages",
    "model_saved_fraction", "model_per_stage_warm_s", "model_saved_s", "model_saved_bytes",
)
HEADLINE_STAGE_COLUMNS = (
    "dockerfile_id", "profile", "action", "key_a_priori", "key_blockers", "key_risks", "base_pin",
)


def study_frames(studies: Iterable[FileStudy]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the file table and the stage table (one row per stage and profile) of `studies`."""
    file_rows: list[dict[str, object]] = []
    stage_rows: list[dict[str, object]] = []
    for study in studies:
        file_rows.append(study.file_row)
        stage_rows.extend(study.stage_rows)
    files = pd.DataFrame(file_rows)
    stages = pd.DataFrame(stage_rows)
    return files, stages


def headline(files: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    """Return the headline numbers of a study as rows of metric, profile, value, mode and note."""
    rows: list[dict[str, object]] = []

    def add(metric: str, value: float, *, mode: str = "static", profile: str | None = None, note: str = "") -> None:
        rows.append({"metric": metric, "profile": profile, "value": float(value), "mode": mode, "note": note})

    studied = files[files["error"].isna()] if "error" in files else files
    add("files", len(files), note="Dockerfiles read")
    add("files_studied", len(studied), note="parsed and planned; the rest failed to parse or plan")
    if len(studied) == 0:
        return pd.DataFrame(rows)
    add("multistage_share", studied["multistage"].mean(), note="files with more than one FROM")
    add("stages_per_file_mean", studied["stages"].mean())
    add("stages_per_file_median", studied["stages"].median())

    lookahead = stages[stages["profile"] == "kaniko-lookahead"]
    add(
        "eliminated_share", (lookahead["action"] == "eliminated").mean(), profile="kaniko-lookahead",
        note="stages as written that lookahead drops on a warm unchanged rebuild",
    )
    multistage_ids = set(studied.loc[studied["multistage"], "dockerfile_id"])
    in_multistage = lookahead[lookahead["dockerfile_id"].isin(multistage_ids)]
    if len(in_multistage):
        add(
            "eliminated_share_multistage", (in_multistage["action"] == "eliminated").mean(),
            profile="kaniko-lookahead", note="the same, over stages of multistage files only",
        )
    for name in STUDY_PROFILES:
        keyed = stages[(stages["profile"] == name) & stages["action"].isin(KEYED_ACTIONS)]
        if not len(keyed):
            continue
        add("a_priori_share", keyed["key_a_priori"].mean(), profile=name,
            note="stages built or eliminated whose final key is known before building")
        for blocker, count in _top(keyed["key_blockers"]):
            add(f"blocker:{blocker}", count / len(keyed), profile=name, note="share of keyed stages")
    risks = stages[stages["profile"] == STUDY_PROFILES[0]]
    for risk, count in _top(risks["key_risks"]):
        add(f"risk:{risk}", count / len(risks), note="share of stages as written")
    for pin, count in Counter(risks["base_pin"]).most_common():
        add(f"base_pin:{pin}", count / len(risks), note="share of stages as written")
    _add_model(add, studied)
    add("assumption", 0, note=BASE_STANDIN)
    add("assumption", 0, note=FILE_PLACEHOLDER)
    return pd.DataFrame(rows)


def _add_model(add, studied: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    multistage = studied[studied["multistage"]]
    if not len(multistage):
        return
    add("saved_fraction_median", multistage["model_saved_fraction"].median(), mode="model",
        note="lookahead vs per-stage warm rebuild time, multistage files")
    add("saved_fraction_mean", multistage["model_saved_fraction"].mean(), mode="model",
        note="lookahead vs per-stage warm rebuild time, multistage files")
    total = multistage["model_per_stage_warm_s"].sum()
    add("saved_fraction_total", multistage["model_saved_s"].sum() / total if total else 0.0, mode="model",
        note="summed over multistage files")
    add("saved_bytes_median", multistage["model_saved_bytes"].median(), mode="model",
        note="bytes downloaded per-stage minus lookahead, multistage files")


def _top(lists: pd.Series) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for values in lists:
        counts.update(set(values))
    return counts.most_common(TOP_REASONS)


def text_report(table: pd.DataFrame) -> str:
    """Render the headline table as short aligned lines, one metric per line."""
    lines = []
    for row in table.itertuples(index=False):
        if row.metric in ("assumption", "calibration"):
            lines.append(f"{row.metric}: {row.note}")
            continue
        label = row.metric if row.profile is None or pd.isna(row.profile) else f"{row.metric} [{row.profile}]"
        is_share = "share" in row.metric or "fraction" in row.metric or ":" in row.metric
        if pd.isna(row.value):
            value = "n/a"
        elif is_share:
            value = f"{row.value:.1%}"
        elif float(row.value).is_integer():
            value = f"{row.value:,.0f}"
        else:
            value = f"{row.value:,.1f}"
        note = f"  ({row.note})" if row.note else ""
        lines.append(f"{row.mode:<8}  {label:<52} {value:>10}{note}")
    return "\n".join(lines) + "\n"


SUMMARY_COLUMNS = (
    "wall_s", "bytes_downloaded", "bytes_unpacked", "stages_total", "stages_built", "stages_eliminated",
)


def warm_summary(builds: pd.DataFrame, *, mode: str) -> pd.DataFrame:
    """Return one row per Dockerfile and strategy for its warm rebuild (step 1), labelled with `mode`.

    `saved_fraction` is `1 - wall_s / wall_s of per-stage` for the same file; it is
    NA where the per-stage rebuild failed or took no time.
    """
    warm = builds[(builds["step"] == 1) & (builds["outcome"] == "ok")]
    summary = warm[["dockerfile_id", "strategy", "engine", *SUMMARY_COLUMNS]].copy()
    summary.insert(0, "mode", mode)
    baseline = summary[summary["strategy"] == "per-stage"].set_index("dockerfile_id")["wall_s"]
    reference = summary["dockerfile_id"].map(baseline).astype("Float64")
    summary["saved_fraction"] = (1 - summary["wall_s"].astype("Float64") / reference).where(reference > 0)
    return summary.reset_index(drop=True)


def savings_direction(summary: pd.DataFrame) -> pd.DataFrame:
    """Return per Dockerfile and mode the sign of lookahead's warm savings over per-stage.

    Columns `stages_sign`, `bytes_sign` (downloaded plus unpacked) and `wall_sign`
    are -1, 0 or 1: 1 means lookahead built fewer stages, moved fewer bytes, or
    took less time.
    """
    moved = summary["bytes_downloaded"].fillna(0) + summary["bytes_unpacked"].fillna(0)
    frame = summary.assign(bytes_moved=moved)
    wide = frame.pivot_table(
        index=["mode", "dockerfile_id"], columns="strategy",
        values=["stages_built", "bytes_moved", "wall_s"], aggfunc="first",
    )
    result = pd.DataFrame(index=wide.index)
    for column, name in (("stages_built", "stages_sign"), ("bytes_moved", "bytes_sign"), ("wall_s", "wall_sign")):
        difference = wide[(column, "per-stage")].astype(float) - wide[(column, "lookahead")].astype(float)
        result[name] = difference.apply(_sign)
    return result.reset_index()


def _sign(value: float) -> int:
    if abs(value) < 1e-12:
        return 0
    return 1 if value > 0 else -1
