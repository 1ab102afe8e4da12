from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cachelab.cachels.duration import format_age, parse_duration
from cachelab.cachels.listing import list_cache
from cachelab.cachels.prune import prune_cache
from cachelab.cachels.stores import open_cache_store
from cachelab.cli import main
from cachelab.oci.layout import LayoutStore
from tests.fixtures.builder import ExampleBuilder

LATER = datetime.now(UTC) + timedelta(days=30)


def _keys(location: str) -> set[str]:
    store = open_cache_store(location)
    try:
        return {row.key for row in list_cache(store, ttl=timedelta(days=1))}
    finally:
        store.close()


def test_prune_dry_run_deletes_nothing(builder: Callable[..., ExampleBuilder], cache_location: str) -> None:
    builder("two-stage", cache=cache_location).build("lookahead")
    before = _keys(cache_location)

    store = open_cache_store(cache_location)
    try:
        result = prune_cache(store, older_than=timedelta(days=7), now=LATER)
    finally:
        store.close()

    assert result.dry_run
    assert {row.key for row in result.selected} == before
    assert result.deleted == []
    assert _keys(cache_location) == before


def test_prune_deletes_old_entries(builder: Callable[..., ExampleBuilder], cache_location: str) -> None:
    builder("two-stage", cache=cache_location).build("lookahead")
    before = _keys(cache_location)

    store = open_cache_store(cache_location, keep_newer_than=0)
    try:
        result = prune_cache(store, older_than=timedelta(days=7), delete=True, now=LATER)
    finally:
        store.close()

    assert result.failed == []
    assert set(result.deleted) == before
    assert _keys(cache_location) == set()


def test_prune_keeps_young_entries(builder: Callable[..., ExampleBuilder], tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    builder("two-stage", cache=cache).build("lookahead")
    before = _keys(cache)

    result = prune_cache(open_cache_store(cache), older_than=timedelta(days=7), delete=True)

    assert result.selected == []
    assert result.kept_count == len(before)
    assert _keys(cache) == before


def test_layout_prune_collects_blobs(builder: Callable[..., ExampleBuilder], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    builder("two-stage", cache=str(cache)).build("lookahead")
    blobs = cache / "blobs" / "sha256"
    assert any(blobs.iterdir())

    prune_cache(open_cache_store(str(cache), keep_newer_than=0), older_than=timedelta(days=7), delete=True,
                now=LATER)

    assert LayoutStore(cache).tags() == []
    assert list(blobs.iterdir()) == []


def test_kaniko_layout_prune_removes_directories(builder: Callable[..., ExampleBuilder], tmp_path: Path) -> None:
    location = f"oci:{tmp_path / 'kaniko-cache'}"
    builder("two-stage", cache=location).build("lookahead")
    assert _keys(location)

    result = prune_cache(open_cache_store(location), older_than=timedelta(hours=1), delete=True, now=LATER)

    assert result.failed == []
    assert _keys(location) == set()
    assert not list(tmp_path.glob("kaniko-cache:*"))


def test_prune_cli_dry_run_then_yes(builder: Callable[..., ExampleBuilder], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    cache = str(tmp_path / "cache")
    builder("two-stage", cache=cache).build("lookahead")

    dry_code = main(["cache", "prune", cache, "--older-than", "0s"])
    dry_output = capsys.readouterr().out
    keys_after_dry_run = _keys(cache)
    yes_code = main(["cache", "prune", cache, "--older-than", "0s", "--yes"])
    yes_output = capsys.readouterr().out

    assert dry_code == 0
    assert "would delete 4 entries" in dry_output
    assert len(keys_after_dry_run) == 4
    assert yes_code == 0
    assert "deleted 4 entries" in yes_output
    assert _keys(cache) == set()


def test_prune_cli_rejects_bad_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["cache", "prune", str(tmp_path), "--older-than", "soon"])
    assert "invalid duration 'soon'" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "expected"), [
    ("336h", timedelta(hours=336)),
    ("1h30m", timedelta(minutes=90)),
    ("7d", timedelta(days=7)),
    ("2w", timedelta(weeks=2)),
    ("1.5h", timedelta(minutes=90)),
    ("250ms", timedelta(milliseconds=250)),
    ("0", timedelta(0)),
])
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "5", "-5m", "5m3", "1y"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_age() -> None:
    assert format_age(timedelta(seconds=45)) == "45s"
    assert format_age(timedelta(minutes=12, seconds=5)) == "12m"
    assert format_age(timedelta(hours=5, minutes=3)) == "5h3m"
    assert format_age(timedelta(days=3, hours=4, minutes=1)) == "3d4h"
