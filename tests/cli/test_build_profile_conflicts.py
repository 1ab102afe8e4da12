"""`cachelab build --strategy S --profile P`: a profile that contradicts the strategy is rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.build.request import BuildRequest, InvalidBuildRequest
from cachelab.cli import main
from tests.fixtures.builder import EXAMPLES

CONTRADICTIONS = [
    ("no-cache", "kaniko-lookahead"),
    ("no-cache", "kaniko-copy"),
    ("per-stage", "no-cache"),
    ("per-stage", "kaniko-lookahead"),
    ("lookahead", "kaniko-copy"),
    ("lookahead", "no-cache"),
    ("graph", "kaniko"),
]
FITTING = [
    ("no-cache", "no-cache"),
    ("per-stage", "kaniko"),
    ("per-stage", "kaniko-copy"),
    ("lookahead", "kaniko-lookahead"),
    ("graph", "kaniko-lookahead"),
]


@pytest.mark.parametrize(("strategy", "profile"), CONTRADICTIONS)
def test_contradicting_profile_rejected(
    strategy: str, profile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    record = tmp_path / "record"
    cache = tmp_path / "cache"
    code = main([
        "build", str(EXAMPLES / "two-stage"), "--quiet", "--strategy", strategy, "--profile", profile,
        "--cache-repo", str(cache), "--record", str(record),
    ])

    err = capsys.readouterr().err
    assert code == 1
    assert f"profile {profile!r} contradicts strategy {strategy!r}" in err
    assert "hint: Leave out --profile" in err
    assert not record.exists()
    assert not cache.exists()


@pytest.mark.parametrize(("strategy", "profile"), FITTING)
def test_fitting_profile_accepted(strategy: str, profile: str, tmp_path: Path) -> None:
    request = BuildRequest(dockerfile=tmp_path / "Dockerfile", context=tmp_path, strategy=strategy, profile=profile)

    assert request.profile_name == profile


def test_request_rejects_contradiction(tmp_path: Path) -> None:
    with pytest.raises(InvalidBuildRequest, match="reads and writes it"):
        BuildRequest(dockerfile=tmp_path / "Dockerfile", context=tmp_path, strategy="no-cache",
                     profile="kaniko-lookahead")


def test_no_cache_build_reads_no_cache(
    image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from cachelab.record import Recording

    record = tmp_path / "record"
    cache = tmp_path / "cache"
    code = main([
        "build", str(EXAMPLES / "two-stage"), "--quiet", "--strategy", "no-cache", "--profile", "no-cache",
        "--image-store", str(image_store), "--cache-repo", str(cache), "--record", str(record),
    ])

    assert code == 0, capsys.readouterr().err
    builds = Recording.load(record).tables()["builds"]
    assert list(builds["strategy"]) == ["no-cache"]
    assert list(builds["profile"]) == ["no-cache"]
    assert not cache.exists()


@pytest.mark.parametrize("cache_repo", ["localhost:5000", "oci:"])
def test_no_cache_build_ignores_cache_location(
    cache_repo: str, image_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # A no-cache build never opens --cache-repo, so a location it could not open does not fail it.
    code = main([
        "build", str(EXAMPLES / "two-stage"), "--quiet", "--strategy", "no-cache",
        "--image-store", str(image_store), "--cache-repo", cache_repo,
    ])

    assert code == 0, capsys.readouterr().err
