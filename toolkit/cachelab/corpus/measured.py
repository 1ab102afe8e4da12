"""The replay study's measured numbers beside the model's, per file and as headline rows.

A replay builds runnable twins of a sample of files with the real builder. Its
warm-rebuild summary rows carry `mode="measured"` and the model's rows of the
same files `mode="model"`, so no table mixes the two without saying which is which.
"""

from __future__ import annotations

import pandas as pd

MEASURED = "measured"
MODEL = "model"
# Columns of `savings_direction`, each compared between the measured and the modelled rows.
SIGN_SUBJECTS = {"wall_sign": "time", "stages_sign": "stages built", "bytes_sign": "bytes moved"}


def with_directions(summary: pd.DataFrame, direction: pd.DataFrame) -> pd.DataFrame:
    """Return `summary` with each file's signs and, on measured rows, `same_direction_as_model`.

    `same_direction_as_model` is True when lookahead's measured warm-rebuild time
    saving has the sign of the modelled one for that file, False when it has not,
    and NA on model rows and on files without a modelled row.
    """
    # NOTE: each strategy's warm rebuild is timed once per file, so where the model
    # saves no time, timing noise alone decides the measured sign.
    merged = summary.merge(direction, on=["mode", "dockerfile_id"], how="left")
    model_sign = direction[direction["mode"] == MODEL].set_index("dockerfile_id")["wall_sign"]
    expected = merged["dockerfile_id"].map(model_sign)
    same = (merged["wall_sign"] == expected).astype("boolean")
    same[(merged["mode"] != MEASURED) | expected.isna() | merged["wall_sign"].isna()] = pd.NA
    merged["same_direction_as_model"] = same
    return merged


def measured_headline(
    summary: pd.DataFrame, direction: pd.DataFrame, *, sampled: int, scale: float,
) -> pd.DataFrame:
    """Return headline rows of the measured savings and of their agreement with the model.

    The rows have the columns of `cachelab.corpus.study_report.headline`, all with
    `mode="measured"`. Savings cover the files whose warm rebuilds succeeded under
    both strategies; agreement shares cover the files with a measured and a modelled sign.
    """
    rows: list[dict[str, object]] = []

    def add(metric: str, value: float, note: str) -> None:
        rows.append({"metric": metric, "profile": None, "value": float(value), "mode": MEASURED, "note": note})

    wide = _warm_pairs(summary[summary["mode"] == MEASURED])
    add("files_replayed", len(wide),
        f"of {sampled} sampled twins, those whose builds succeeded; model rows cover all {sampled}")
    if len(wide) == 0:
        return pd.DataFrame(rows)

    saved_s = wide["per-stage_wall_s"] - wide["lookahead_wall_s"]
    fraction = (saved_s / wide["per-stage_wall_s"]).where(wide["per-stage_wall_s"] > 0)
    total = wide["per-stage_wall_s"].sum()
    add("saved_fraction_median", fraction.median(), "lookahead vs per-stage warm rebuild time, replayed twins")
    add("saved_fraction_mean", fraction.mean(), "lookahead vs per-stage warm rebuild time, replayed twins")
    add("saved_fraction_total", saved_s.sum() / total if total else 0.0, "summed over replayed twins")
    saved_bytes = wide["per-stage_bytes_downloaded"] - wide["lookahead_bytes_downloaded"]
    add("saved_bytes_median", saved_bytes.median(),
        f"bytes downloaded per-stage minus lookahead, twins scaled down by {scale:g}")

    for column, subject in SIGN_SUBJECTS.items():
        agreeing, compared = _agreement(direction, column)
        if compared:
            add(f"same_direction_share:{subject}", agreeing / compared,
                f"{agreeing} of {compared} replayed files: measured saving in {subject} has the model's sign")
    return pd.DataFrame(rows)


def _warm_pairs(summary: pd.DataFrame) -> pd.DataFrame:
    """Return one row per file with the per-stage and lookahead warm wall time and bytes, as floats."""
    frame = summary.assign(bytes_downloaded=summary["bytes_downloaded"].astype("Float64").fillna(0))
    wide = frame.pivot_table(
        index="dockerfile_id", columns="strategy", values=["wall_s", "bytes_downloaded"], aggfunc="first",
    )
    wide.columns = [f"{strategy}_{value}" for value, strategy in wide.columns]
    needed = ["per-stage_wall_s", "lookahead_wall_s", "per-stage_bytes_downloaded", "lookahead_bytes_downloaded"]
    if not set(needed) <= set(wide.columns):
        return pd.DataFrame(columns=needed)
    return wide[needed].astype(float).dropna(subset=["per-stage_wall_s", "lookahead_wall_s"])


def _agreement(direction: pd.DataFrame, column: str) -> tuple[int, int]:
    """Return how many files have the same measured and modelled sign in `column`, and how many have both."""
    signs = direction.pivot_table(index="dockerfile_id", columns="mode", values=column, aggfunc="first")
    if MEASURED not in signs or MODEL not in signs:
        return 0, 0
    pairs = signs[[MODEL, MEASURED]].dropna()
    return int((pairs[MODEL] == pairs[MEASURED]).sum()), len(pairs)


def per_file_report(summary: pd.DataFrame) -> str:
    """Render lookahead's modelled and measured warm-rebuild time saving per replayed file."""
    lookahead = summary[summary["strategy"] == "lookahead"]
    model = lookahead[lookahead["mode"] == MODEL].set_index("dockerfile_id")
    measured = lookahead[lookahead["mode"] == MEASURED].set_index("dockerfile_id")
    lines = [
        "lookahead's warm-rebuild time saving over per-stage, per replayed file:",
        f"{'model':>8}  {'measured':>8}  {'same direction':<14}  dockerfile",
    ]
    for dockerfile_id, row in measured.iterrows():
        modelled = _percent(model["saved_fraction"].get(dockerfile_id))
        same = row["same_direction_as_model"]
        if pd.isna(same):
            verdict = "n/a"
        else:
            verdict = "yes" if same else "NO"
        lines.append(f"{modelled:>8}  {_percent(row['saved_fraction']):>8}  {verdict:<14}  {dockerfile_id}")
    if measured.empty:
        lines.append("(no twin was built)")
    return "\n".join(lines) + "\n"


def _percent(value: object) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return f"{float(value):.1%}"
