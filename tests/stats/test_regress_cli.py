"""`cachelab regress OLD NEW` over two saved recording directories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cachelab.cli import main
from cachelab.record import Recording, concat, synthetic_build


def save_builds(directory: Path, prefix: str, scale: float, host: str = "h") -> Path:
    rng = np.random.default_rng(len(prefix))
    recordings = [
        Recording.from_events(
            synthetic_build(f"{prefix}-{i}", repeat=i, scale=scale * rng.lognormal(0.0, 0.02)),
            environment={"host": host},
        )
        for i in range(6)
    ]
    return concat(recordings).save(directory)


@pytest.fixture
def recordings(tmp_path: Path) -> tuple[Path, Path]:
    return save_builds(tmp_path / "old", "old", 1.0), save_builds(tmp_path / "new", "new", 1.3)


def test_table_output(recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = recordings
    code = main(["regress", str(old), str(new)])
    lines = capsys.readouterr().out.splitlines()

    assert code == 0
    assert lines[0].split()[:3] == ["dockerfile", "scenario", "strategy"]
    assert "95% CI" in lines[0]
    assert len(lines) == 2
    assert lines[1].startswith("app/Dockerfile")
    assert lines[1].endswith("worse")


def test_threshold_changes_verdict(
    recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = recordings
    code = main(["regress", str(old), str(new), "--threshold", "2"])

    assert code == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("same")


def test_json_output(recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = recordings
    code = main(["regress", str(old), str(new), "--format", "json", "--resamples", "500"])
    document = json.loads(capsys.readouterr().out)

    assert code == 0
    assert document["threshold"] == 1.1
    assert document["environments"]["old"] == [{"host": "h"}]
    [row] = document["comparisons"]
    assert row["strategy"] == "lookahead"
    assert row["verdict"] == "worse"
    assert row["old_n"] == 6
    assert row["ci_low"] <= row["ratio"] <= row["ci_high"]


def test_json_null_for_incomparable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = save_builds(tmp_path / "old", "old", 1.0)
    single = Recording.from_events(synthetic_build("one", strategy="no-cache"), environment={})
    new = single.save(tmp_path / "new")
    main(["regress", str(old), str(new), "--format", "json"])
    rows = {row["strategy"]: row for row in json.loads(capsys.readouterr().out)["comparisons"]}

    assert rows["no-cache"]["verdict"] == "incomparable"
    assert rows["no-cache"]["ratio"] is None
    assert rows["lookahead"]["new_median"] is None


def test_same_environment_no_warning(
    recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = recordings

    assert main(["regress", str(old), str(new)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_host_change_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = save_builds(tmp_path / "old", "old", 1.0, host="laptop")
    new = save_builds(tmp_path / "new", "new", 1.0, host="ci-runner")

    assert main(["regress", str(old), str(new)]) == 0
    assert "recordings differ in host (laptop vs ci-runner)" in capsys.readouterr().err


def test_missing_directory_is_error(
    recordings: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, _ = recordings
    code = main(["regress", str(old), str(tmp_path / "absent")])
    err = capsys.readouterr().err

    assert code == 1
    assert "recording directory not found" in err
    assert "hint:" in err


def test_invalid_threshold_is_error(
    recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = recordings

    assert main(["regress", str(old), str(new), "--threshold", "0.9"]) == 1
    assert "threshold 0.9 must be a factor above 1" in capsys.readouterr().err
