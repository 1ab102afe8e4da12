"""`compare` end to end with the real builder on the example builds."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cachelab.cli import main
from cachelab.record import Recording
from cachelab.study.compare import compare
from cachelab.study.errors import StudyError
from cachelab.study.mutations import ClearCache
from cachelab.study.scenario import Scenario, Step
from cachelab.study.summary import stage_table
from tests.fixtures.paths import REPO_ROOT

EXAMPLES = REPO_ROOT / "datasets" / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def two_stage(image_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, Path, str]:
    out = tmp_path_factory.mktemp("compare-two-stage")
    report = io.StringIO()
    recording = compare(
        EXAMPLES / "two-stage",
        repeats=2,
        out_dir=out,
        image_store=str(image_store),
        report=report,
    )
    return recording, out, report.getvalue()


def _stage(table: pd.DataFrame, strategy: str, stage_index: int) -> pd.Series:
    rows = table[(table["strategy"] == strategy) & (table["stage_index"] == stage_index)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_two_stage_builds_interleaved(two_stage: tuple[Recording, Path, str]) -> None:
    builds = two_stage[0].builds.sort_values("started_at")
    order = list(zip(builds["strategy"], builds["repeat"], builds["step"]))
    assert order == [
        ("per-stage", 0, 0), ("per-stage", 0, 1),
        ("lookahead", 0, 0), ("lookahead", 0, 1),
        ("per-stage", 1, 0), ("per-stage", 1, 1),
        ("lookahead", 1, 0), ("lookahead", 1, 1),
    ]
    assert (builds["outcome"] == "ok").all()
    assert builds["run_id"].nunique() == 1
    assert set(builds["scenario"]) == {"warm-unchanged"}
    assert set(builds["dockerfile_id"]) == {str(EXAMPLES / "two-stage")}


def test_two_stage_warm_per_stage_builds_base(two_stage: tuple[Recording, Path, str]) -> None:
    table = stage_table(two_stage[0])
    base = _stage(table, "per-stage", 0)
    assert base["stage_name"] == "base"
    assert base["action"] == "built"
    assert base["bytes_downloaded"] > 0
    assert base["bytes_unpacked"] > 0
    assert base["builds"] == 2


def test_two_stage_warm_lookahead_skips_base(two_stage: tuple[Recording, Path, str]) -> None:
    # kaniko re-squashes after elimination: once the COPY --from hits, `base` has one
    # FROM child and no COPY consumer, so it is merged into that child and not built.
    recording = two_stage[0]
    table = stage_table(recording)
    assert _stage(table, "lookahead", 0)["action"] == "squashed"
    final = _stage(table, "lookahead", 1)
    assert final["action"] == "built"
    assert final["cache_misses"] == 0
    assert final["cache_hits"] == 3

    builds = recording.builds
    warm = builds[(builds["strategy"] == "lookahead") & (builds["step"] == 1)]
    assert (warm["bytes_downloaded"].fillna(0) == 0).all()
    assert (warm["bytes_unpacked"].fillna(0) == 0).all()


def test_two_stage_cold_steps_miss(two_stage: tuple[Recording, Path, str]) -> None:
    table = stage_table(two_stage[0], step=0)
    for strategy in ("per-stage", "lookahead"):
        assert _stage(table, strategy, 0)["action"] == "built"
        assert _stage(table, strategy, 0)["cache_hits"] == 0


def test_two_stage_outputs_load_back(two_stage: tuple[Recording, Path, str]) -> None:
    recording, out, _ = two_stage
    loaded = Recording.load(out)
    for name, table in recording.tables().items():
        assert len(getattr(loaded, name)) == len(table), name
    for strategy in ("per-stage", "lookahead"):
        png = out / f"timeline-{strategy}.png"
        assert png.stat().st_size > 1000
        assert png.read_bytes()[:8] == PNG_MAGIC


def test_two_stage_report_has_ratio(two_stage: tuple[Recording, Path, str]) -> None:
    report = two_stage[2]
    assert "squashed" in report
    assert "lookahead  per-stage" in report
    assert "95% bootstrap CI with 2 or more repeats, a verdict with 5 or more" in report
    # Two repeats give an interval but no verdict.
    assert "inconclusive" in report


def test_three_stage_lookahead_eliminates(image_store: Path, tmp_path: Path) -> None:
    example = tmp_path / "three-stage"
    shutil.copytree(EXAMPLES / "three-stage", example)
    dockerfile = example / "Dockerfile"
    # 64 kB instead of 50 MB keeps the test fast; the stage graph is the same.
    dockerfile.write_text(dockerfile.read_text().replace("head -c 52428800", "head -c 65536"))
    recording = compare(example, out_dir=tmp_path / "out", image_store=str(image_store))

    table = stage_table(recording)
    for index in (0, 1):
        assert _stage(table, "lookahead", index)["action"] == "eliminated"
        assert _stage(table, "per-stage", index)["action"] == "built"
        assert _stage(table, "per-stage", index)["bytes_downloaded"] > 0
    builds = recording.builds
    warm = builds[(builds["strategy"] == "lookahead") & (builds["step"] == 1)]
    assert int(warm["bytes_downloaded"].fillna(0).iloc[0]) == 0
    assert int(warm["stages_eliminated"].iloc[0]) == 2


def test_edit_scenario_rebuilds_edited_producer(image_store: Path, tmp_path: Path) -> None:
    recording = compare(
        EXAMPLES / "fan-in",
        scenario="edit:config.ini",
        out_dir=tmp_path / "out",
        image_store=str(image_store),
    )
    table = stage_table(recording)
    for strategy in ("per-stage", "lookahead"):
        config = _stage(table, strategy, 1)
        assert config["action"] == "built"
        assert config["cache_misses"] >= 1
    assert _stage(table, "lookahead", 0)["action"] == "eliminated"
    assert _stage(table, "per-stage", 0)["action"] == "built"
    assert (EXAMPLES / "fan-in" / "context" / "config.ini").read_text().count("cachelab") == 0


def test_build_arg_scenario_misses_run(image_store: Path, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nARG VERSION=1\nRUN echo $VERSION > /version\n")
    recording = compare(
        dockerfile,
        strategies=("lookahead",),
        scenario="build-arg:VERSION=2",
        out_dir=tmp_path / "out",
        image_store=str(image_store),
    )
    instructions = recording.instructions.merge(recording.builds[["build_id", "step"]], on="build_id")
    runs = instructions[instructions["kind"] == "RUN"].sort_values("step")
    assert list(runs["decision"]) == ["miss", "miss"]
    assert runs["cache_key"].nunique() == 2


def test_clear_cache_step_builds_cold(image_store: Path, tmp_path: Path) -> None:
    scenario = Scenario("clear", (Step(label="cold"), Step(label="warm"), Step((ClearCache(),))))
    recording = compare(
        EXAMPLES / "two-stage",
        strategies=("per-stage",),
        scenario=scenario,
        out_dir=tmp_path / "out",
        image_store=str(image_store),
    )
    builds = recording.builds.set_index("step")
    assert builds.loc[0, "cache_hits"] == 0
    assert builds.loc[1, "cache_misses"] == 0
    assert builds.loc[1, "cache_hits"] > 0
    assert builds.loc[2, "cache_hits"] == 0
    assert builds.loc[2, "cache_misses"] == builds.loc[0, "cache_misses"]


def test_failed_build_propagates_and_saves_nothing(image_store: Path, tmp_path: Path) -> None:
    from cachelab.build.errors import RunFailed

    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN exit 3\n")
    out = tmp_path / "out"
    with pytest.raises(RunFailed) as caught:
        compare(dockerfile, strategies=("lookahead",), out_dir=out, image_store=str(image_store))
    assert "Dockerfile:2: `RUN exit 3` failed" in str(caught.value)
    assert not out.exists()


def test_unknown_strategy_rejected(tmp_path: Path) -> None:
    with pytest.raises(StudyError) as caught:
        compare(EXAMPLES / "two-stage", strategies=("fastest",), out_dir=tmp_path)
    assert "fastest" in str(caught.value)


def test_cli_compare_prints_table(
    image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main([
        "compare", str(EXAMPLES / "two-stage"), "--strategies", "lookahead",
        "--image-store", str(image_store), "--out", str(out), "--quiet",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "squashed" in printed
    assert "no ratio: only one strategy ran (lookahead), and a ratio needs two" in printed
    assert (out / "builds.parquet").is_file()
    assert (out / "timeline-lookahead.png").is_file()


def test_cli_compare_default_out_dir(
    image_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main([
        "compare", str(EXAMPLES / "two-stage"), "--strategies", "lookahead",
        "--image-store", str(image_store), "--quiet",
    ])
    assert code == 0
    assert (tmp_path / "cachelab-out" / "two-stage" / "builds.parquet").is_file()


def test_cli_compare_bad_build_arg(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", str(EXAMPLES / "two-stage"), "--build-arg", "=x"])

    assert code == 1
    assert "--build-arg '=x'" in capsys.readouterr().err
