"""`cachelab study CORPUS --mode model|replay`: what lookahead saves on real Dockerfiles.

`cachelab compare CORPUS --mode ...` runs the same handler. Mode `model`
studies every file statically and simulates its builds (engine `model`).
Mode `replay` builds runnable twins of a sample of multistage files with the
real builder (engine `cachelab`), and models the same files for comparison.
Every headline, summary and direction row carries its `mode`: `static`,
`model` or `measured` (built by replay), so modelled and measured numbers are
never mixed up.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachelab.cli._arguments import positive_int
from cachelab.corpus.errors import CorpusError

if TYPE_CHECKING:
    import pandas as pd

    from cachelab.corpus.manifest import CorpusEntry
    from cachelab.corpus.source import CorpusSource
    from cachelab.model.costs import CostModel

logger = logging.getLogger(__name__)

MODES = ("model", "replay")
# The forms `cachelab.corpus.source.resolve_corpus` accepts, for help texts.
CORPUS_FORMS = (
    "a corpus name fetched with `cachelab corpus fetch` (e.g. real-v1), a *.jsonl.zst store, "
    "a manifest.jsonl or a directory holding one, a directory of Dockerfiles, or one Dockerfile"
)
DEFAULT_REPLAY_SAMPLE = 20


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "study",
        help="estimate what lookahead saves on a corpus of real Dockerfiles (modelled or replayed)",
        description=(
            "Study a corpus of Dockerfiles: stage graphs, base pinning, a-priori keys and "
            "blockers per profile, and the warm-rebuild savings of lookahead over per-stage, "
            "either modelled (--mode model) or measured on runnable twins (--mode replay). "
            "Writes Parquet tables, a summary, a text report and figures into --out. Every "
            "headline row is labelled static, model or measured; replay adds the measured "
            "savings, per file too, and whether each has the sign of the model's."
        ),
    )
    parser.add_argument(
        "corpus", metavar="CORPUS",
        help=f"the corpus to study: {CORPUS_FORMS}",
    )
    add_corpus_arguments(parser, required_mode=True)
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR",
        help="output directory; a DIR that is a file or not writable is rejected before any work, and so is "
        "a DIR that already contains a study, a recording or other files named like a study's outputs, "
        "unless --force is given. A failed or interrupted study writes nothing into DIR but the twin "
        "base images in DIR/work/images, and removes DIR when it created it and nothing is left",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="replace the study or recording in DIR once the new study has finished; a failed or "
        "interrupted study leaves them as they were",
    )
    parser.set_defaults(handler=run_study)


def add_corpus_arguments(parser: argparse.ArgumentParser, *, required_mode: bool = False) -> None:
    """Add the corpus-study options; `cachelab compare` adds them with `--mode` optional."""
    parser.add_argument(
        "--mode", choices=MODES, required=required_mode,
        help="model: simulate every file; replay: build twins of a sample with the real builder"
        + ("" if required_mode else " (turns compare into a corpus study)"),
    )
    parser.add_argument(
        "--sample", type=positive_int, metavar="N",
        help=f"study N files drawn with a fixed seed (default: all for model, {DEFAULT_REPLAY_SAMPLE} "
        "multistage files for replay)",
    )
    parser.add_argument("--workers", type=positive_int, default=1, metavar="N",
                        help="processes for the static study and model (default: %(default)s)")
    parser.add_argument("--scale", type=_positive_float, default=None, metavar="F",
                        help="replay: divide every modelled size and RUN time by F (default: 500)")
    parser.add_argument("--catalog", type=Path, metavar="FILE",
                        help="base-image size catalog (default: datasets/base-images.json)")
    parser.add_argument(
        "--calibrate", type=Path, metavar="DIR",
        help="fit the model's throughputs to a recording saved by `cachelab build --record DIR`",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a number greater than 0")
    return value


def run_study(args: argparse.Namespace) -> int:
    """Run the study `args.mode` on `args.corpus` and write its outputs into `args.out`."""
    from cachelab.cli._staging import staging_directory
    from cachelab.cli._study_out import STAGING_PREFIX, TWIN_IMAGES, check_study_out, replace_study
    from cachelab.corpus.source import resolve_corpus

    corpus = getattr(args, "corpus", None) or args.dockerfile
    out: Path = args.out or Path("cachelab-out") / f"{Path(corpus).name}-{args.mode}"
    check_study_out(out, force=args.force)
    source = resolve_corpus(corpus)
    logger.info("studying the %s", source.describe())
    # The study replaces an earlier one in `out` only once it has finished, so a
    # failed or interrupted study leaves that one as it was, and writes no
    # tables without their report.
    with staging_directory(out, prefix=STAGING_PREFIX) as staging:
        _study(args, source, staging, twin_images=out / TWIN_IMAGES)
        replace_study(staging, out)
    print(f"wrote the {args.mode} study of {corpus} to {out}")
    return 0


def _study(args: argparse.Namespace, source: CorpusSource, out: Path, *, twin_images: Path) -> None:
    from cachelab.corpus.study import StudySettings
    from cachelab.model.catalog import BaseImageCatalog
    from cachelab.model.costs import CostModel, calibrate

    catalog = BaseImageCatalog.load(args.catalog)
    progress = sys.stderr.isatty() and "CI" not in os.environ
    costs = CostModel()
    calibration: str | None = None
    if args.calibrate is not None:
        from cachelab.cli._calibration import load_calibration_recording

        calibrated = calibrate(load_calibration_recording(args.calibrate), costs)
        calibration = calibration_note(args.calibrate, costs, calibrated)
        costs = calibrated
        logger.info("%s", calibration)
    settings = StudySettings(costs=costs, catalog=catalog, record_events=True, run_id=f"{args.mode}-study")

    if args.mode == "model":
        selected, count = _select(source, args.sample)
        summary, table = _write_model(selected, count, settings, out, workers=args.workers, progress=progress)
        _write_report(out, table, summary, calibration=calibration)
    else:
        _write_replay(source, settings, out, args=args, progress=progress, calibration=calibration,
                      twin_images=twin_images)


def calibration_note(recording: Path, old: CostModel, new: CostModel) -> str:
    """Describe a calibration: the recording it read and each model parameter it changed, as old -> new."""
    import dataclasses

    changes = [
        f"{field.name} {getattr(old, field.name):.4g} -> {getattr(new, field.name):.4g}"
        for field in dataclasses.fields(old)
        if getattr(old, field.name) != getattr(new, field.name)
    ]
    changed = ", ".join(changes) if changes else "no parameter changed"
    return f"model costs calibrated from the recording in {recording}: {changed}"


def _entries(source: CorpusSource, chosen: set[str] | None = None) -> Iterator[CorpusEntry]:
    """Stream the entries of `source`, only those in `chosen` if given."""
    for entry in source.entries():
        if chosen is None or entry.id in chosen:
            yield entry


def _select(source: CorpusSource, size: int | None) -> tuple[Iterator[CorpusEntry], int]:
    """Return a stream of the sampled entries and their count; only ids are held in memory."""
    from cachelab.replay.run import sample_ids

    ids = [entry.id for entry in _entries(source)]
    chosen = set(sample_ids(ids, size))
    return _entries(source, chosen if size is not None else None), len(chosen)


def _write_model(  # type: ignore[no-untyped-def]
    entries: Iterable[CorpusEntry], count: int, settings, out: Path, *, workers: int, progress: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Study and model `entries` into `out`, and return the warm summary and the headline table."""
    from cachelab.corpus.study_output import StudyWriter, read_study
    from cachelab.corpus.study_parallel import study_parts
    from cachelab.corpus.study_report import HEADLINE_FILE_COLUMNS, HEADLINE_STAGE_COLUMNS, headline, warm_summary
    from cachelab.corpus.study_warnings import WarningTally

    tally = WarningTally()
    with StudyWriter(out) as writer, _progress_bar(count, enabled=progress) as bar:
        # Closing the parts stops the workers before the writer closes or an error
        # leaves this function, so no worker writes into `out` after that.
        with contextlib.closing(study_parts(entries, settings, writer.model_dir, workers=workers)) as parts:
            for part in parts:
                writer.add_part(part)
                for _, warnings in part.warnings:
                    tally.add(warnings)
                if bar is not None:
                    bar.update(part.file_count)
    tally.log_unshown()
    summary = warm_summary(writer.all_builds(), mode="model")
    # The stage table has about 700,000 rows at 100k files, so only the columns
    # that the headline and the figures read are loaded.
    files, stages = read_study(out, file_columns=HEADLINE_FILE_COLUMNS, stage_columns=HEADLINE_STAGE_COLUMNS)
    _figures(writer.all_builds(), stages, out, mode="model")
    counts = [_bind_mount_row(writer.unhashed_bind_mounts), *tally.headline_rows()]
    return summary, _with_counts(headline(files, stages), counts)


@contextlib.contextmanager
def _progress_bar(total: int, *, enabled: bool) -> Iterator[Any]:
    """Yield a tqdm bar over `total` files on stderr, or None when not `enabled`."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc="study", unit="file") as bar:
        yield bar


def _bind_mount_row(counts: dict[str, int]) -> dict[str, object]:
    """Return the headline row counting RUN bind mounts kaniko leaves out of the key, in place of one warning each."""
    return {
        "metric": "unhashed_bind_mounts", "profile": None, "value": float(sum(counts.values())),
        "mode": "static",
        "note": f"RUN bind mounts from another stage or image, not in the key, in {len(counts)} files",
    }


def _with_counts(table: pd.DataFrame, rows: list[dict[str, object]]) -> pd.DataFrame:
    """Insert the counted-warning `rows` into the headline `table`, before its assumption rows."""
    import pandas as pd

    assumptions = table["metric"] == "assumption"
    return pd.concat([table[~assumptions], pd.DataFrame(rows), table[assumptions]], ignore_index=True)


def _write_report(
    out: Path, table: pd.DataFrame, summary: pd.DataFrame, *, details: str = "", calibration: str | None = None,
) -> None:
    """Write the headline, summary and text report into `out` and print the report.

    `calibration` describes the calibration of the model's costs, if any, and
    becomes a `calibration` row of the headline.
    """
    import pandas as pd

    from cachelab.corpus.study_report import text_report

    if calibration is not None:
        row = {"metric": "calibration", "profile": None, "value": 0.0, "mode": "model", "note": calibration}
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    table.to_parquet(out / "headline.parquet")
    summary.to_parquet(out / "summary.parquet")
    report = text_report(table) + details
    (out / "report.txt").write_text(report, encoding="utf-8")
    sys.stdout.write(report)


def _write_replay(  # type: ignore[no-untyped-def]
    source: CorpusSource, settings, out: Path, *, args: argparse.Namespace, progress: bool, calibration: str | None,
    twin_images: Path,
) -> None:
    from cachelab.corpus.measured import (
        MEASURED,
        measured_headline,
        per_file_report,
        with_directions,
    )
    from cachelab.corpus.study_report import savings_direction, warm_summary
    from cachelab.replay.run import ReplaySettings, multistage_ids, sample_ids
    from cachelab.replay.twin import DEFAULT_SCALE

    # Parsing every file to find the multistage ones would warn about files outside
    # the sample, so those warnings are dropped. The model study of the sample
    # below logs and counts the warnings of the files it studies.
    with _dockerfile_warnings_held():
        eligible = list(multistage_ids(_entries(source)))
    if not eligible:
        raise CorpusError(
            f"no multistage Dockerfile that parses in the {source.describe()}, so replay has nothing to build",
            hint="Study it with --mode model, which covers single-stage files too.",
        )
    chosen = set(sample_ids(eligible, args.sample or DEFAULT_REPLAY_SAMPLE))

    model_summary, table = _write_model(_entries(source, chosen), len(chosen), settings, out, workers=1, progress=False)
    replay_settings = ReplaySettings(
        work_dir=out / "work", scale=args.scale or DEFAULT_SCALE, catalog=settings.catalog,
        run_id="replay-study", images_dir=twin_images,
    )
    builds, failed = _replay(_entries(source, chosen), replay_settings, out, progress=progress)
    _figures(builds, None, out, mode=MEASURED)

    import pandas as pd

    summary = pd.concat([model_summary, warm_summary(builds, mode=MEASURED)], ignore_index=True)
    direction = savings_direction(summary)
    direction.to_parquet(out / "direction.parquet")
    summary = with_directions(summary, direction)

    measured = measured_headline(summary, direction, sampled=len(chosen), scale=replay_settings.scale)
    assumptions = table["metric"] == "assumption"
    table = pd.concat([table[~assumptions], measured, table[assumptions]], ignore_index=True)
    details = per_file_report(summary) + (
        f"replay: {len(chosen)} twins scaled down by {replay_settings.scale:g}, {failed} failed to build "
        "(see replay-errors.parquet); twin base images are kept in work/images for the next run\n"
    )
    _write_report(out, table, summary, details=details, calibration=calibration)


class _HeldRecords(logging.Handler):
    """Keeps the records it receives in `records` instead of writing them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _dockerfile_warnings_held() -> Iterator[list[logging.LogRecord]]:
    """Hold the Dockerfile layer's log records (FROM arguments, unknown stage names) logged inside, unwritten.

    The layer logs each warning once per process, so a later build of the same
    file in this process does not log them either.
    """
    dockerfile_logger = logging.getLogger("cachelab.dockerfile")
    handler = _HeldRecords()
    propagate = dockerfile_logger.propagate
    dockerfile_logger.addHandler(handler)
    dockerfile_logger.propagate = False
    try:
        yield handler.records
    finally:
        dockerfile_logger.removeHandler(handler)
        dockerfile_logger.propagate = propagate


def _replay(  # type: ignore[no-untyped-def]
    entries: Iterable[CorpusEntry], replay_settings, out: Path, *, progress: bool,
) -> tuple[pd.DataFrame, int]:
    """Build the twins of `entries` and save the recording and errors in `out`.

    Returns the builds table and the number of files whose twin failed to build.
    """
    import pandas as pd

    from cachelab.record import Recording
    from cachelab.replay.run import replay_entries

    events = []
    errors: list[dict[str, str]] = []
    for result in replay_entries(entries, replay_settings, progress=progress):
        events.extend(result.events)
        errors.extend({"dockerfile_id": result.dockerfile_id, "error": error} for error in result.errors)
    recording = Recording.from_events(events)
    recording.save(out / "replay")
    pd.DataFrame(errors, columns=["dockerfile_id", "error"]).to_parquet(out / "replay-errors.parquet")
    return recording.builds, len({error["dockerfile_id"] for error in errors})


def _figures(builds: pd.DataFrame, stages: pd.DataFrame | None, out: Path, *, mode: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cachelab.plots import savings_hist

    warm = builds[builds["step"] == 1]
    # A file whose rebuild costs nothing (FROM scratch alone) has no savings ratio.
    timed = warm.groupby("dockerfile_id")["wall_s"].transform("min") > 0
    # Lookahead changes nothing in a single-stage file, so the headline's savings
    # cover multistage files only, and so does the figure.
    multistage = warm.groupby("dockerfile_id")["stages_total"].transform("max") > 1
    warm = warm[timed & multistage]
    built = set(warm.loc[warm["outcome"] == "ok", "strategy"])
    if {"per-stage", "lookahead"} <= built:
        figure, ax = plt.subplots(figsize=(6, 4))
        savings_hist(warm, baseline="per-stage", strategy="lookahead", ax=ax)
        ax.set_title(f"lookahead warm-rebuild savings over per-stage, multistage files ({mode})")
        figure.savefig(out / f"savings-{mode}.png", dpi=120, bbox_inches="tight")
        plt.close(figure)
    else:
        logger.warning("no %s warm rebuild succeeded under both per-stage and lookahead, "
                       "so the study has no savings-%s.png", mode, mode)
    if stages is None or stages.empty:
        return

    keyed = stages[stages["action"].isin(("built", "eliminated"))]
    shares = keyed.groupby("profile")["action"].apply(lambda actions: (actions == "eliminated").mean())
    figure, ax = plt.subplots(figsize=(6, 3))
    ax.barh(list(shares.index), list(shares.values * 100))
    ax.set_xlabel("stages eliminated on a warm unchanged rebuild (%)")
    ax.set_title("share of stages eliminated (static study)")
    figure.savefig(out / "eliminated.png", dpi=120, bbox_inches="tight")
    plt.close(figure)

    blockers = keyed.explode("key_blockers").dropna(subset=["key_blockers"])
    counts = blockers.groupby(["key_blockers", "profile"]).size().unstack(fill_value=0)
    figure, ax = plt.subplots(figsize=(7, 3))
    if not counts.empty:
        counts.plot.barh(ax=ax)
    ax.set_xlabel("stages whose key is blocked")
    ax.set_title("blockers of a-priori keys per profile (static study)")
    figure.savefig(out / "blockers.png", dpi=120, bbox_inches="tight")
    plt.close(figure)
