"""`cachelab cache prune` reports the blobs it freed and the young ones it kept."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.cli._arguments import seconds_or_duration
from cachelab.oci.layout import LayoutStore
from tests.fixtures.builder import ExampleBuilder


def _unreferenced_blobs(cache: Path) -> set[str]:
    store = LayoutStore(cache)
    present = {"sha256:" + path.name for path in (cache / "blobs" / "sha256").iterdir()}
    return present - store.referenced_blobs()


def test_prune_names_kept_young_blobs(builder: Callable[..., ExampleBuilder], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    builder("two-stage", cache=str(cache)).build("lookahead")

    code = main(["cache", "prune", str(cache), "--older-than", "0s", "--yes"])
    out = capsys.readouterr().out
    kept = _unreferenced_blobs(cache)

    assert code == 0
    assert "deleted 4 entries" in out
    assert kept, "the blobs of a build just run are younger than the default 300 s"
    assert f"freed 0 B in 0 unreferenced blobs; kept {len(kept)} unreferenced blobs" in out
    assert "modified less than 300 s ago, because a running build may still tag them" in out
    assert f"`cachelab store gc {cache} --keep-newer-than 0` removes them" in out

    assert main(["store", "gc", str(cache), "--keep-newer-than", "0"]) == 0
    assert _unreferenced_blobs(cache) == set()


def test_prune_keep_newer_than_duration_frees(builder: Callable[..., ExampleBuilder], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    builder("two-stage", cache=str(cache)).build("lookahead")
    blobs = sum(1 for _ in (cache / "blobs" / "sha256").iterdir())

    code = main(["cache", "prune", str(cache), "--older-than", "0s", "--keep-newer-than", "0s", "--yes"])
    out = capsys.readouterr().out

    assert code == 0
    assert f"in {blobs} unreferenced blobs" in out
    assert "freed 0 B" not in out
    assert "kept" not in out.splitlines()[-1]
    assert _unreferenced_blobs(cache) == set()
    assert not any((cache / "blobs" / "sha256").iterdir())


@pytest.mark.parametrize(("text", "seconds"), [("300", 300.0), ("1.5", 1.5), ("0", 0.0), ("5m", 300.0),
                                               ("1h30m", 5400.0), ("0s", 0.0)])
def test_seconds_or_duration(text: str, seconds: float) -> None:
    assert seconds_or_duration(text) == seconds


@pytest.mark.parametrize("text", ["-1", "soon", "inf", "nan", "-5m", ""])
def test_seconds_or_duration_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected seconds"):
        seconds_or_duration(text)
