"""A regression study from the command line: labelled `cachelab build --record` runs fed to `regress`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cachelab.build.request import dockerfile_id_of
from cachelab.cli import main
from cachelab.record import Recording, load_recordings
from cachelab.study.workspace import resolve_input
from tests.fixtures.builder import ExampleBuilder

REPEATS = 2


def record_side(example: ExampleBuilder, side: Path, *, labelled: bool = True) -> None:
    """Record REPEATS cold builds (step 0) and REPEATS warm rebuilds (step 1), one directory per build."""
    for repeat in range(REPEATS):
        cache = side.parent / f"{side.name}-cache-{repeat}"
        for step, name in ((0, "cold"), (1, "warm")):
            labels = ["--scenario", "warm-unchanged", "--step", str(step)] if labelled else []
            argv = [
                "build", str(example.dockerfile), "--context", str(example.context),
                "--strategy", "lookahead", "--cache-repo", str(cache),
                "--image-store", str(example.image_store), "--quiet",
                "--record", str(side / f"{name}-{repeat}"), *labels,
            ]
            assert main(argv) == 0


@pytest.fixture
def study(builder: Callable[..., ExampleBuilder], tmp_path: Path) -> tuple[ExampleBuilder, Path, Path]:
    example = builder("two-stage")
    record_side(example, tmp_path / "old")
    record_side(example, tmp_path / "new")
    return example, tmp_path / "old", tmp_path / "new"


def test_build_records_labels(study: tuple[ExampleBuilder, Path, Path]) -> None:
    example, old, _ = study
    builds = load_recordings(old).builds.sort_values(["step", "build_id"])

    assert len(builds) == 2 * REPEATS
    assert builds["scenario"].tolist() == ["warm-unchanged"] * (2 * REPEATS)
    assert builds["step"].tolist() == [0] * REPEATS + [1] * REPEATS
    assert set(builds["dockerfile_id"]) == {str(example.dockerfile)}


def test_regress_compares_each_step(
    study: tuple[ExampleBuilder, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, old, new = study
    capsys.readouterr()

    code = main(["regress", str(old), str(new), "--metric", "cache_misses", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)["comparisons"]

    assert code == 0
    assert [row["step"] for row in rows] == [0, 1]
    assert [row["old_n"] for row in rows] == [REPEATS, REPEATS]
    assert [row["new_n"] for row in rows] == [REPEATS, REPEATS]
    # Two repeats per side are too few for a verdict.
    assert [row["verdict"] for row in rows] == ["inconclusive", "inconclusive"]


def test_regress_warm_step_has_zero_misses(
    study: tuple[ExampleBuilder, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, old, new = study
    capsys.readouterr()

    code = main(["regress", str(old), str(new), "--step", "1", "--metric", "cache_misses", "--format", "json"])
    (row,) = json.loads(capsys.readouterr().out)["comparisons"]

    assert code == 0
    assert row["old_median"] == 0
    assert row["statistic"] == "difference"
    assert row["ci_low"] == 0
    assert row["ci_high"] == 0
    assert row["verdict"] == "inconclusive"


@pytest.mark.parametrize("spelling", ["{dir}", "./{dir}/", "{dir}/", "{dir}/Dockerfile"])
def test_dockerfile_id_matches_compare(
    spelling: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = tmp_path / "app"
    (example / "context").mkdir(parents=True)
    (example / "Dockerfile").write_text("FROM busybox\n")
    monkeypatch.chdir(tmp_path)
    file = spelling.format(dir="app")

    assert dockerfile_id_of(file) == resolve_input(file).dockerfile_id


def test_dockerfile_id_normal_form() -> None:
    assert dockerfile_id_of("./app/") == "app"
    assert dockerfile_id_of("app/Dockerfile") == "app/Dockerfile"


def test_old_sha256_recording_still_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cachelab.record import concat, synthetic_build

    def side(prefix: str, dockerfile_id: str) -> Path:
        recording = concat(
            Recording.from_events(synthetic_build(f"{prefix}-{i}", dockerfile_id=dockerfile_id, repeat=i),
                                  environment={"host": "h"})
            for i in range(2)
        )
        return recording.save(tmp_path / prefix)

    old = side("old", "sha256:" + "ab" * 32)
    new = side("new", "app")

    assert main(["regress", str(old), str(new)]) == 0
    output = capsys.readouterr()
    assert "no dockerfile_id occurs on both sides" in output.err
    assert output.out.count("incomparable") == 2


def test_regress_warns_on_pooled_steps(
    builder: Callable[..., ExampleBuilder], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    example = builder("two-stage")
    record_side(example, tmp_path / "old", labelled=False)
    record_side(example, tmp_path / "new", labelled=False)

    with caplog.at_level("WARNING", logger="cachelab.stats.compare"):
        assert main(["regress", str(tmp_path / "old"), str(tmp_path / "new")]) == 0

    warnings = [record.getMessage() for record in caplog.records if record.name == "cachelab.stats.compare"]
    assert len(warnings) == 2
    assert warnings[0].startswith("old builds of group")
    assert f"{REPEATS} of {2 * REPEATS} have no cache hits" in warnings[0]
    assert "--step N" in warnings[0]


def test_regress_quiet_on_labelled_steps(
    study: tuple[ExampleBuilder, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    _, old, new = study

    with caplog.at_level("WARNING", logger="cachelab.stats.compare"):
        assert main(["regress", str(old), str(new)]) == 0

    assert not [record for record in caplog.records if record.name == "cachelab.stats.compare"]
