"""`cachelab regress OLD NEW` over two saved recording directories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from cachelab.cli import main
from cachelab.record import Recording, concat, synthetic_build


def save_builds(
    directory: Path, prefix: str, scale: float, host: str = "h", steps: dict[int, float] | None = None
) -> Path:
    """Save 6 builds per step; `steps` maps a step to a factor on `scale` (default: step 0 only)."""
    rng = np.random.default_rng(len(prefix))
    recordings = [
        Recording.from_events(
            synthetic_build(
                f"{prefix}-{step}-{i}",
                step=step,
                repeat=i,
                scale=scale * factor * rng.lognormal(0.0, 0.02),
            ),
            environment={"host": host},
        )
        for step, factor in (steps or {0: 1.0}).items()
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
    assert lines[0].split()[:4] == ["dockerfile", "scenario", "step", "strategy"]
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


def test_verdict_per_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The cold build is 20 times slower than the warm rebuild, which alone slows down.
    old = save_builds(tmp_path / "old", "old", 1.0, steps={0: 20.0, 1: 1.0})
    new = save_builds(tmp_path / "new", "new", 1.0, steps={0: 20.0, 1: 1.5})
    code = main(["regress", str(old), str(new)])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]

    assert code == 0
    assert [row[2] for row in rows] == ["0", "1"]
    assert [row[-1] for row in rows] == ["same", "worse"]
    assert all("(n=6)" in " ".join(row) for row in rows)


def test_step_option_reports_one_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = save_builds(tmp_path / "old", "old", 1.0, steps={0: 20.0, 1: 1.0})
    new = save_builds(tmp_path / "new", "new", 1.0, steps={0: 20.0, 1: 1.5})
    code = main(["regress", str(old), str(new), "--step", "1", "--format", "json"])
    document = json.loads(capsys.readouterr().out)

    assert code == 0
    assert document["step"] == 1
    assert [row["step"] for row in document["comparisons"]] == [1]
    assert document["comparisons"][0]["verdict"] == "worse"


def test_negative_step_rejected(recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = recordings

    with pytest.raises(SystemExit) as raised:
        main(["regress", str(old), str(new), "--step", "-1"])
    assert raised.value.code == 2
    assert "invalid step '-1'" in capsys.readouterr().err


def test_non_numeric_metric_is_error(
    recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = recordings
    code = main(["regress", str(old), str(new), "--metric", "outcome"])
    err = capsys.readouterr().err

    assert code == 1
    assert "invalid metric 'outcome'" in err
    assert "hint: Compare one of the numeric columns: wall_s," in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "content", [b"", b"not a parquet file", b"PAR1" + b"\0" * 64], ids=["empty", "text", "zeros"]
)
def test_unreadable_table_names_file(
    recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    old, new = recordings
    (new / "stages.parquet").write_bytes(content)
    code = main(["regress", str(old), str(new)])
    err = capsys.readouterr().err

    assert code == 1
    assert f"cannot read {new / 'stages.parquet'} as Parquet" in err
    assert "hint: Save or copy the recording again" in err


def test_truncated_table_names_file(
    recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = recordings
    builds = new / "builds.parquet"
    builds.write_bytes(builds.read_bytes()[:500])
    code = main(["regress", str(old), str(new)])
    err = capsys.readouterr().err

    assert code == 1
    assert f"cannot read {builds} as Parquet" in err


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (b"{not json", "invalid JSON in the cachelab.environments metadata of"),
        (b"\xff\xfe", "invalid JSON in the cachelab.environments metadata of"),
        (b'{"host": "h"}', "list of"),
        (b'["h"]', "list of"),
    ],
    ids=["syntax", "not-utf8", "object", "list-of-strings"],
)
def test_invalid_environments_names_file(
    recordings: tuple[Path, Path], capsys: pytest.CaptureFixture[str], metadata: bytes, message: str
) -> None:
    old, new = recordings
    builds = new / "builds.parquet"
    table = pq.read_table(builds)
    pq.write_table(
        table.replace_schema_metadata({**table.schema.metadata, b"cachelab.environments": metadata}), builds
    )
    code = main(["regress", str(old), str(new)])
    err = capsys.readouterr().err

    assert code == 1
    assert message in err
    assert f"cachelab.environments metadata of {builds}" in err
    assert "hint: Save the recording again" in err
