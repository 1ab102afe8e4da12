"""`cachelab compare` rejects an --out directory that already contains a recording, unless --force."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from tests.fixtures.paths import TESTS_DIR

EXAMPLE = TESTS_DIR.parent / "datasets" / "examples" / "two-stage"


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "home"))


def _earlier_recording(out: Path) -> Path:
    out.mkdir()
    builds = out / "builds.parquet"
    builds.write_bytes(b"earlier recording")
    return builds


def test_out_with_recording_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    builds = _earlier_recording(out)

    code = main(["compare", str(EXAMPLE), "--quiet", "--image-store", str(tmp_path / "images"),
                 "--out", str(out)])
    err = capsys.readouterr().err

    assert code == 1
    assert f"cachelab: error: --out {out} already contains a recording (builds.parquet)" in err
    assert "add --force" in err
    assert builds.read_bytes() == b"earlier recording"
    assert not (tmp_path / "images").exists()


def test_out_with_recording_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    builds = _earlier_recording(out)
    timeline = out / "timeline-old.png"
    timeline.write_bytes(b"png")

    code = main(["compare", str(EXAMPLE), "--quiet", "--image-store", str(tmp_path / "images"),
                 "--strategies", "per-stage", "--out", str(out), "--force"])

    assert code == 0, capsys.readouterr().err
    assert builds.read_bytes() != b"earlier recording"
    assert not timeline.exists()
    assert (out / "timeline-per-stage.png").exists()


def _failing_example(tmp_path: Path) -> Path:
    # The cold build succeeds and the rebuild fails, so the old recording must survive a late failure.
    example = tmp_path / "failing"
    (example / "context").mkdir(parents=True)
    (example / "context" / "flag").write_text("ok\n")
    (example / "Dockerfile").write_text("FROM busybox\nCOPY flag /flag\nRUN [ \"$(cat /flag)\" = ok ]\n")
    return example


def test_failed_forced_compare_keeps_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    builds = _earlier_recording(out)
    timeline = out / "timeline-old.png"
    timeline.write_bytes(b"png")
    example = _failing_example(tmp_path)

    code = main(["compare", str(example), "--quiet", "--image-store", str(tmp_path / "images"),
                 "--strategies", "per-stage", "--scenario", "edit:flag", "--out", str(out), "--force"])
    err = capsys.readouterr().err

    assert code == 1, err
    assert "failed with exit code 1" in err
    assert builds.read_bytes() == b"earlier recording"
    assert timeline.read_bytes() == b"png"
    assert sorted(path.name for path in out.iterdir()) == ["builds.parquet", "timeline-old.png"]


def test_interrupted_forced_compare_keeps_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    builds = _earlier_recording(out)

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("cachelab.study.compare.run_scenario", interrupt)
    code = main(["compare", str(EXAMPLE), "--quiet", "--image-store", str(tmp_path / "images"),
                 "--strategies", "per-stage", "--out", str(out), "--force"])
    capsys.readouterr()

    assert code == 130
    assert builds.read_bytes() == b"earlier recording"
    assert [path.name for path in out.iterdir()] == ["builds.parquet"]


def test_failed_compare_leaves_no_new_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "new" / "out"
    example = _failing_example(tmp_path)

    code = main(["compare", str(example), "--quiet", "--image-store", str(tmp_path / "images"),
                 "--strategies", "per-stage", "--scenario", "edit:flag", "--out", str(out)])
    capsys.readouterr()

    assert code == 1
    assert not (tmp_path / "new").exists()


def test_forced_compare_reports_final_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    _earlier_recording(out)

    code = main(["compare", str(EXAMPLE), "--quiet", "--image-store", str(tmp_path / "images"),
                 "--strategies", "per-stage", "--out", str(out), "--force"])
    stdout = capsys.readouterr().out

    assert code == 0
    assert f"wrote {out / 'builds.parquet'}\n" in stdout
    assert f"wrote {out / 'timeline-per-stage.png'}\n" in stdout
    assert "per-stage" in stdout.split("wrote", 1)[0]
    assert not [path for path in out.iterdir() if path.name.startswith(".")]
