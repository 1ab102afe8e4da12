"""`cachelab build` rejects a --record or --cache-repo path it cannot write, before building."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.build.request import InvalidBuildRequest
from cachelab.build.stores import check_cache_location, directory_write_problem, open_cache
from cachelab.cli import main
from cachelab.keys.flags import profile
from tests.fixtures.paths import TESTS_DIR

EXAMPLE = TESTS_DIR.parent / "datasets" / "examples" / "two-stage"
# /proc refuses new entries even for root, so mkdir there fails with ENOENT.
PROC_PATH = Path("/proc/cachelab-no-such-entry")


def _build(tmp_path: Path, *options: str) -> list[str]:
    """Return argv of a build of two-stage whose image store and default cache live in tmp_path."""
    return ["build", str(EXAMPLE), "--quiet", "--image-store", str(tmp_path / "images"), *options]


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "home"))


def test_record_in_proc_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"

    code = main(_build(tmp_path, "--record", str(PROC_PATH), "--cache-repo", str(cache)))
    err = capsys.readouterr().err

    assert code == 1
    assert f"cachelab: error: --record {PROC_PATH} is not writable: cannot create directory {PROC_PATH}" in err
    assert "cachelab: hint: Pass a writable directory" in err
    assert "Errno" not in err
    # The build never started, so nothing was written to the cache.
    assert not cache.exists()


def test_record_under_file_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    record = blocker / "recording"

    code = main(_build(tmp_path, "--record", str(record)))
    err = capsys.readouterr().err

    assert code == 1
    assert f"cachelab: error: --record {record} cannot be created, because {blocker} is not a directory" in err
    assert "cachelab: hint: Pass a writable directory" in err


def test_cache_repo_dev_null_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "recording"

    code = main(_build(tmp_path, "--cache-repo", "/dev/null", "--record", str(record)))
    err = capsys.readouterr().err

    assert code == 1
    assert "cachelab: error: cache store /dev/null is not a directory" in err
    assert "cachelab: hint: Pass --cache-repo a directory you can write to" in err
    assert "Errno" not in err
    # The build never started, so no recording of a failed build was saved.
    assert not record.exists()


def test_dry_run_checks_cache_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(_build(tmp_path, "--cache-repo", "/dev/null", "--dry-run"))
    err = capsys.readouterr().err

    assert code == 1
    assert "cache store /dev/null is not a directory" in err


@pytest.mark.parametrize("form", ["layout", "oci"])
def test_cache_repo_under_file_rejected(form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    location = str(blocker / "cache")
    expected = f"cache store {location} cannot be created, because {blocker} is not a directory"
    if form == "oci":
        # Each entry is a directory beside DIR, so DIR's parent must be creatable.
        location = f"oci:{blocker / 'nested' / 'cache'}"
        expected = (f"cache store {location}: {blocker / 'nested'} cannot be created, because {blocker} "
                    "is not a directory")

    code = main(_build(tmp_path, "--cache-repo", location))
    err = capsys.readouterr().err

    assert code == 1
    assert f"cachelab: error: {expected}" in err


def test_cache_repo_unused_without_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # no-cache builds never open the cache store, so its path is not checked. The
    # missing Dockerfile stops this build before anything runs.
    code = main(["build", str(tmp_path / "Dockerfile"), "--context", str(tmp_path), "--strategy", "no-cache",
                 "--cache-repo", "/dev/null"])
    err = capsys.readouterr().err

    assert code == 1
    assert "/dev/null" not in err
    assert "Dockerfile" in err


def test_open_cache_rejects_device() -> None:
    with pytest.raises(InvalidBuildRequest) as raised:
        open_cache("/dev/null", profile("kaniko-lookahead"))

    assert str(raised.value) == "cache store /dev/null is not a directory"
    assert raised.value.hint is not None


def test_check_leaves_no_directories(tmp_path: Path) -> None:
    check_cache_location(str(tmp_path / "a" / "b" / "cache"))
    check_cache_location(f"oci:{tmp_path / 'c' / 'cache'}")

    assert list(tmp_path.iterdir()) == []


def test_write_problem_of_usable_directory(tmp_path: Path) -> None:
    assert directory_write_problem(tmp_path) is None
    assert directory_write_problem(tmp_path / "new" / "deeper") is None
    assert list(tmp_path.iterdir()) == []


def test_registry_cache_not_checked() -> None:
    check_cache_location("127.0.0.1:1/cache")


def test_build_help_says_paths_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    text = " ".join(capsys.readouterr().out.split())

    assert "checked before the build starts" in text


def test_dry_run_with_record_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "recording"

    code = main(_build(tmp_path, "--dry-run", "--record", str(record)))
    captured = capsys.readouterr()

    assert code == 1
    assert f"cachelab: error: --record {record} has nothing to save, because --dry-run builds nothing" in captured.err
    assert "cachelab: hint: Leave out --record for a dry run" in captured.err
    assert captured.out == ""
    assert not record.exists()
