"""`cachelab regress OLD NEW`: compare the build timings of two sides of saved recordings."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cachelab.cli._arguments import positive_int

# Ratio cell of a group judged on the difference of medians, because its old median is 0 or less.
NO_RATIO = "none"
# `statistic` value of such a group, as `cachelab.stats.compare` writes it.
DIFFERENCE = "difference"
# Verdict of a group with too few builds on a side, as `cachelab.stats.verdict` writes it.
INCONCLUSIVE = "inconclusive"

if TYPE_CHECKING:
    import pandas as pd

    from cachelab.record import Recording


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "regress",
        help="compare timings of two sides of saved recordings and print a verdict per group",
        description=(
            "Compare the builds of two sides, OLD and NEW, by (dockerfile_id, scenario, "
            "step, strategy). Each side is a recording directory, or a directory whose "
            "subdirectories are recordings, such as one `cachelab build --record DIR/N "
            "--scenario NAME --step S` per build; those are joined. A group is 'worse' or "
            "'better' only when the bootstrap confidence interval of the ratio of medians "
            "(new/old) excludes 1 and the ratio passes the threshold factor. Otherwise it is "
            "'same', or 'incomparable' without enough successful builds on both sides. A group "
            "with fewer than 5 successful builds on a side (more at --confidence above 0.99) "
            "shows its interval with the verdict 'inconclusive', because with so few builds "
            "the bootstrap interval excludes 1 far more often than its confidence level says. Where "
            "the old median is 0, as bytes_downloaded or cache_misses of a warm build often "
            "are, no ratio exists: the interval is then of the difference new - old, and the "
            "group is 'worse' or 'better' when it excludes 0, with no threshold. Each step of "
            "a scenario gets its own verdict. Step 0 is the cold build and later steps "
            "rebuild on its cache, so pooling them would mix two distributions into an "
            "interval of neither. Builds recorded without --step share one group, so label "
            "them with `cachelab build --scenario NAME --step N`, or `cachelab ingest ENGINE "
            "FILE --scenario NAME --step N` for another engine's builds. "
            "A slower cold build is as much a regression as a slower warm rebuild, so every "
            "step is reported unless --step N picks one. A warning names each group whose builds "
            "have no dockerfile_id or differ in stage count or commands, as ingested builds of "
            "different Dockerfiles can, and OLD and NEW that contain the same builds. "
            "Exits 0 whatever the verdicts."
        ),
    )
    parser.add_argument(
        "old", type=Path,
        help="baseline: a recording directory, or a directory of recording directories",
    )
    parser.add_argument(
        "new", type=Path,
        help="recordings to compare with the baseline, in the same form as OLD",
    )
    parser.add_argument(
        "--threshold", type=float, default=1.1,
        help="factor a ratio must pass to count as a change (default: 1.1, i.e. 10%%)",
    )
    parser.add_argument(
        "--metric", default="wall_s",
        help="numeric builds column to compare, lower is better, such as bytes_downloaded or "
        "cache_misses (default: wall_s, in seconds)",
    )
    parser.add_argument(
        "--step", type=step_number, metavar="N",
        help="compare only the builds of scenario step N, e.g. 1 for the first warm "
        "rebuild (default: every step, each with its own verdict)",
    )
    parser.add_argument(
        "--confidence", type=float, default=0.95,
        help="confidence level of the bootstrap interval (default: 0.95)",
    )
    parser.add_argument(
        "--resamples", type=positive_int, default=10_000, metavar="N",
        help="bootstrap resamples per group, at least 1 (default: 10000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")
    parser.add_argument(
        "--format", choices=("table", "json"), default="table",
        help="output format (default: table)",
    )
    parser.set_defaults(handler=run_regress)


def step_number(text: str) -> int:
    """Parse a scenario step for `--step`: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid step {text!r}: expected a whole number, 0 or more")
    return value


def run_regress(args: argparse.Namespace) -> int:
    from cachelab.stats import compare_recordings

    old = load_recording(args.old)
    new = load_recording(args.new)
    result = compare_recordings(
        old,
        new,
        metric=args.metric,
        step=args.step,
        threshold=args.threshold,
        confidence=args.confidence,
        resamples=args.resamples,
        seed=args.seed,
    )
    _warn_on_environment_change(old.environments, new.environments)
    _warn_on_unpaired_ids(old.builds, new.builds)
    _warn_on_same_builds(args.old, args.new, old.builds, new.builds)

    if args.format == "json":
        document = {
            "old": str(args.old),
            "new": str(args.new),
            "metric": args.metric,
            "step": args.step,
            "threshold": args.threshold,
            "confidence": args.confidence,
            "environments": {"old": old.environments, "new": new.environments},
            "comparisons": [_json_row(row) for row in result.to_dict(orient="records")],
        }
        json.dump(document, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print_table(result, sys.stdout, confidence=args.confidence)
    return 0


def load_recording(directory: Path) -> Recording:
    """Load the recording in `directory`, or join those in its subdirectories.

    The record layer names a damaged file itself.
    """
    from cachelab.record import load_recordings

    return load_recordings(directory)


def _json_row(row: dict[str, object]) -> dict[str, object]:
    return {key: _plain(value) for key, value in row.items()}


def _plain(value: object) -> object:
    # pandas NA and NaN become JSON null, and numpy scalars become Python numbers.
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def print_table(result: pd.DataFrame, stream: TextIO, *, confidence: float = 0.95) -> None:
    """Write one aligned line per comparison: group, medians, ratio, interval, verdict."""
    interval = f"{confidence:.0%} CI"
    header = ("dockerfile", "scenario", "step", "strategy", "old", "new", "ratio", interval, "verdict")
    lines = [header]
    for row in result.to_dict(orient="records"):
        lines.append(
            (
                _text(row["dockerfile_id"]),
                _text(row["scenario"]),
                _text(row["step"]),
                _text(row["strategy"]),
                _seconds(row["old_median"], row["old_n"]),
                _seconds(row["new_median"], row["new_n"]),
                NO_RATIO if row["statistic"] == DIFFERENCE else _number(row["ratio"], "{:.3f}"),
                _interval(row["ci_low"], row["ci_high"]),
                _text(row["verdict"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        stream.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
        stream.write("\n")
    if (result["verdict"] == INCONCLUSIVE).any():
        from cachelab.stats import min_samples_for_verdict

        stream.write(
            f"verdict '{INCONCLUSIVE}': a side has fewer than {min_samples_for_verdict(confidence)} "
            f"successful builds, too few for a verdict at {confidence:.0%} confidence. "
            "Record more repeats.\n"
        )
    if (result["statistic"] == DIFFERENCE).any():
        stream.write(
            f"ratio '{NO_RATIO}': the old median is 0 or less, so no ratio exists. The interval is "
            "of the difference new - old, in the metric's unit, and the verdict is worse or "
            "better when it excludes 0.\n"
        )


def _text(value: object) -> str:
    return "-" if _plain(value) is None else str(value)


def _number(value: object, template: str) -> str:
    plain = _plain(value)
    return "-" if plain is None else template.format(plain)


def _seconds(median: object, count: object) -> str:
    plain = _plain(median)
    return "-" if plain is None else f"{plain:.3f} (n={count})"


def _interval(low: object, high: object) -> str:
    if _plain(low) is None or _plain(high) is None:
        return "-"
    return f"[{_plain(low):.3f}, {_plain(high):.3f}]"


def _warn_on_unpaired_ids(old: pd.DataFrame, new: pd.DataFrame) -> None:
    # A group on one side only is incomparable. When no dockerfile_id pairs at
    # all, the likely cause is two id rules, such as a path and a sha256: digest.
    old_ids = set(old["dockerfile_id"].dropna())
    new_ids = set(new["dockerfile_id"].dropna())
    if old_ids and new_ids and not old_ids & new_ids:
        print(
            "cachelab: warning: no dockerfile_id occurs on both sides "
            f"(old: {', '.join(sorted(old_ids))}; new: {', '.join(sorted(new_ids))}), "
            "so every group is incomparable. Recordings of earlier `cachelab build` versions "
            "carry sha256: ids where later ones carry FILE's path. Record both sides with one cachelab version",
            file=sys.stderr,
        )


def _warn_on_same_builds(old_path: Path, new_path: Path, old: pd.DataFrame, new: pd.DataFrame) -> None:
    # Comparing a side with itself gives ratios of 1 and verdicts 'same', which
    # look like a finding but only mean that OLD and NEW name the same builds.
    if old_path.resolve() == new_path.resolve():
        reason = f"OLD and NEW are the same directory ({old_path})"
    else:
        old_ids = set(old["build_id"])
        if not old_ids or old_ids != set(new["build_id"]):
            return
        reason = f"OLD ({old_path}) and NEW ({new_path}) contain the same {len(old_ids)} builds"
    print(
        f"cachelab: warning: {reason}, so every group is compared with itself. "
        "Pass the recordings of the baseline as OLD and those of the change as NEW",
        file=sys.stderr,
    )


# Environment fields that change timings. A difference is reported before the verdicts.
COMPARED_ENVIRONMENT = ("host", "cpu_count", "python_version", "cachelab_version")


def _warn_on_environment_change(
    old: list[dict[str, object]], new: list[dict[str, object]]
) -> None:
    for key in COMPARED_ENVIRONMENT:
        old_values = sorted({str(environment.get(key)) for environment in old if key in environment})
        new_values = sorted({str(environment.get(key)) for environment in new if key in environment})
        if old_values and new_values and old_values != new_values:
            print(
                f"cachelab: warning: recordings differ in {key} "
                f"({', '.join(old_values)} vs {', '.join(new_values)}), "
                "so timings may not be comparable",
                file=sys.stderr,
            )
