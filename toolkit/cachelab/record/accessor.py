"""The `df.cachelab` accessor: schema checks and helpers on the record tables.

Accessing `df.cachelab` finds which of the four tables `df` is (by its key
columns) and raises `AttributeError` naming the missing columns unless every
column of that table is present. Extra columns are allowed, so merged frames work.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cachelab.record import schema
from cachelab.record.errors import RecordError

SUMMARY_COLUMNS = ("builds", "ok", "median", "q1", "q3", "iqr", "min", "max")


def identify_table(frame: pd.DataFrame) -> str | None:
    """Return the name of the record table `frame` looks like, or None."""
    columns = set(frame.columns)
    if "span_id" in columns:
        return "spans"
    if "instruction_index" in columns and "decision" in columns:
        return "instructions"
    if "stage_index" in columns and "action" in columns:
        return "stages"
    if "build_id" in columns and "strategy" in columns:
        return "builds"
    return None


@pd.api.extensions.register_dataframe_accessor("cachelab")
class CachelabAccessor:
    """Helpers on a cachelab record table (`builds`, `stages`, `instructions`, `spans`)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        table = identify_table(frame)
        if table is None:
            raise AttributeError(
                "df.cachelab needs a cachelab record table: no span_id, decision, "
                "action or strategy column identifies one"
            )
        missing = [column for column in schema.TABLES[table] if column not in frame.columns]
        if missing:
            raise AttributeError(
                f"df.cachelab: the frame looks like the {table!r} table "
                f"but lacks columns: {', '.join(missing)}"
            )
        self._frame = frame
        self.table = table

    def dtype_mismatches(self) -> dict[str, tuple[str, str]]:
        """Return columns whose dtype differs from the schema, as (actual, expected)."""
        mismatches = {}
        for column, kind in schema.TABLES[self.table].items():
            expected = schema.pandas_dtype(kind)
            actual = self._frame[column].dtype
            if kind == schema.STRING_LIST:
                ok = isinstance(actual, pd.ArrowDtype) and "list" in str(actual)
            else:
                ok = actual == expected
            if not ok:
                mismatches[column] = (str(actual), str(expected))
        return mismatches

    def validate(self) -> pd.DataFrame:
        """Return the frame unchanged, or raise `RecordError` listing wrong dtypes."""
        mismatches = self.dtype_mismatches()
        if mismatches:
            listed = ", ".join(
                f"{column} is {actual}, expected {expected}"
                for column, (actual, expected) in mismatches.items()
            )
            raise RecordError(
                f"{self.table} table has wrong dtypes: {listed}",
                hint="Build tables with cachelab.record instead of by hand.",
            )
        return self._frame

    def summary(self, value: str = "wall_s", by: str | Sequence[str] = "strategy") -> pd.DataFrame:
        """Return count, median, quartiles, IQR, min and max of `value` per `by` group.

        Only builds with `outcome == "ok"` enter the statistics, but `builds` counts all.
        """
        builds = self._require("builds", "summary")
        keys = [by] if isinstance(by, str) else list(by)
        rows = []
        for group, frame in builds.groupby(keys, sort=True, dropna=False):
            ok = frame[frame["outcome"] == "ok"][value].dropna().astype(float)
            q1, median, q3 = (ok.quantile(q) if len(ok) else pd.NA for q in (0.25, 0.5, 0.75))
            group_values = group if isinstance(group, tuple) else (group,)
            rows.append(
                {
                    **dict(zip(keys, group_values)),
                    "builds": len(frame),
                    "ok": len(ok),
                    "median": median,
                    "q1": q1,
                    "q3": q3,
                    "iqr": q3 - q1 if len(ok) else pd.NA,
                    "min": ok.min() if len(ok) else pd.NA,
                    "max": ok.max() if len(ok) else pd.NA,
                }
            )
        result = pd.DataFrame(rows, columns=[*keys, *SUMMARY_COLUMNS])
        return result.astype({"builds": "Int64", "ok": "Int64"}).astype(
            {column: "Float64" for column in SUMMARY_COLUMNS[2:]}
        )

    def wall_ratio(
        self,
        baseline: str,
        other: str,
        *,
        by: Sequence[str] = ("dockerfile_id", "scenario"),
        value: str = "wall_s",
    ) -> pd.DataFrame:
        """Return median `value` of strategy `other` over strategy `baseline` per group.

        The result has the `by` columns, `baseline_median`, `other_median` and
        `ratio`, which is below 1 when `other` is faster. Groups where either
        strategy has no successful build are dropped.
        """
        builds = self._require("builds", "wall_ratio")
        ok = builds[builds["outcome"] == "ok"]
        for strategy in (baseline, other):
            if not (ok["strategy"] == strategy).any():
                present = ", ".join(map(str, ok["strategy"].unique()))
                raise RecordError(
                    f"no successful build of strategy {strategy!r} "
                    f"(strategies with successful builds: {present})",
                    hint="Pass strategy names that occur in the builds table.",
                )
        medians = (
            ok[ok["strategy"].isin([baseline, other])]
            .groupby([*by, "strategy"], dropna=False)[value]
            .median()
            .unstack("strategy")
        )
        medians = medians.dropna(subset=[baseline, other])
        result = pd.DataFrame(
            {
                "baseline_median": medians[baseline].astype("Float64"),
                "other_median": medians[other].astype("Float64"),
            }
        )
        result["ratio"] = result["other_median"] / result["baseline_median"]
        return result.reset_index()

    def phase_seconds(self) -> pd.DataFrame:
        """Return the stage phase times in long form: build_id, stage_index, phase, seconds."""
        stages = self._require("stages", "phase_seconds")
        long = stages.melt(
            id_vars=["build_id", "stage_index"],
            value_vars=list(schema.PHASE_COLUMNS),
            var_name="phase",
            value_name="seconds",
        )
        long["phase"] = long["phase"].str.removesuffix("_s").astype("string")
        return long

    def _require(self, table: str, helper: str) -> pd.DataFrame:
        if self.table != table:
            raise RecordError(
                f"df.cachelab.{helper} needs the {table} table, not the {self.table} table",
                hint=f"Call it on Recording.{table}.",
            )
        return self._frame
