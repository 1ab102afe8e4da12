from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cachelab.cachels.errors import CacheStoreError
from cachelab.cachels.frame import cache_frame
from cachelab.cachels.listing import list_cache, pointer_content_key
from cachelab.cachels.matching import dockerfile_key_uses, mark_dockerfile_hits
from cachelab.cachels.stores import open_cache_store
from cachelab.cli import main
from cachelab.keys.composite import CompositeKey
from cachelab.oci.layout import LayoutStore
from tests.fixtures.builder import Built, ExampleBuilder
from tests.inspect.synthetic import entry, write_image

TTL = timedelta(hours=336)


def _pushed(built: Built) -> tuple[dict[str, str], dict[str, str]]:
    """Return the layer keys (key -> instruction) and pointers (key -> target) a build pushed."""
    layers: dict[str, str] = {}
    pointers: dict[str, str] = {}
    for stage in built.result.stages:
        for instruction in stage.instructions:
            if instruction.push_layer and instruction.key:
                layers[instruction.key] = instruction.text
            if instruction.push_pointer is not None:
                pointers[instruction.push_pointer.key] = instruction.key or ""
    return layers, pointers


def test_ls_lists_builder_entries(builder: Callable[..., ExampleBuilder], cache_location: str) -> None:
    example = builder("two-stage", cache=cache_location)
    built = example.build("lookahead")
    layers, pointers = _pushed(built)

    store = open_cache_store(cache_location)
    try:
        rows = list_cache(store, ttl=TTL)
    finally:
        store.close()

    assert {row.key: row.created_by for row in rows if row.kind == "layer"} == layers
    assert {row.key: row.pointer_key for row in rows if row.kind == "pointer"} == pointers
    assert pointers
    assert all(row.layer_size and row.layer_digest for row in rows if row.kind == "layer")
    assert all(row.expired is False for row in rows)
    assert all(row.age_s is not None and 0 <= row.age_s < 3600 for row in rows)


def test_dockerfile_marks_current_keys(builder: Callable[..., ExampleBuilder], cache_location: str) -> None:
    cache = cache_location
    example = builder("two-stage", cache=cache)
    built = example.build("lookahead")
    layers, pointers = _pushed(built)
    text = example.dockerfile.read_text()
    example.dockerfile.write_text(text.replace("RUN ls -lah /blubb", "RUN ls -l /blubb"))
    changed_key = next(key for key, instruction in layers.items() if instruction == "RUN ls -lah /blubb")

    store = open_cache_store(cache)
    try:
        rows = list_cache(store, ttl=TTL)
        uses = dockerfile_key_uses(example.dockerfile, example.context, cache=store.cache,
                                   image_store=example.image_store)
    finally:
        store.close()
    marked = mark_dockerfile_hits(rows, uses)

    by_key = {row.key: row for row in rows}
    assert marked == len(rows) - 1
    assert by_key[changed_key].match is None
    for key in (set(layers) - {changed_key}) | set(pointers):
        assert by_key[key].match == "hit"
    copy_row = next(row for row in rows if row.created_by == "COPY --from=base /blubb /blubb")
    assert copy_row.hit_by == "stage 1 line 9: COPY --from=base /blubb /blubb"
    pointer_row = next(row for row in rows if row.kind == "pointer")
    assert pointer_row.hit_by is not None
    assert pointer_row.hit_by.endswith("(pointer)")


def test_expired_entries_marked(builder: Callable[..., ExampleBuilder], tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    example = builder("two-stage", cache=cache)
    example.build("lookahead")
    later = datetime.now(UTC) + timedelta(days=30)

    store = open_cache_store(cache)
    rows = list_cache(store, ttl=TTL, now=later)
    uses = dockerfile_key_uses(example.dockerfile, example.context, cache=store.cache,
                               image_store=example.image_store)
    mark_dockerfile_hits(rows, uses)

    assert rows
    assert all(row.expired for row in rows)
    # The planner judges expiry by the real clock, so the keys still name these entries.
    assert {row.match for row in rows} == {"expired"}


def test_ls_reads_kaniko_layout_form(builder: Callable[..., ExampleBuilder], tmp_path: Path) -> None:
    location = f"oci:{tmp_path / 'kaniko-cache'}"
    example = builder("two-stage", cache=location)
    layers, pointers = _pushed(example.build("lookahead"))

    store = open_cache_store(location)
    rows = list_cache(store, ttl=TTL)

    assert store.kind == "kaniko-layout"
    assert {row.key for row in rows} == set(layers) | set(pointers)


def test_invalid_entry_listed_as_invalid(tmp_path: Path) -> None:
    store = tmp_path / "cache"
    key = "ab" * 32
    write_image(f"oci:{store}:{key}", [[entry("a", data=b"a")], [entry("b", data=b"b")]])
    write_image(f"oci:{store}:not-a-key", [[entry("c", data=b"c")]])

    rows = list_cache(open_cache_store(str(store)), ttl=TTL)

    assert [(row.key, row.kind) for row in rows] == [(key, "invalid")]
    assert rows[0].error is not None
    assert "2 layers" in rows[0].error


def test_pointer_content_key_both_modes() -> None:
    rolling = "c" * 64
    legacy = CompositeKey.new("base", "COPY --from=base /a /a", "sha256:0")

    assert pointer_content_key(rolling) == rolling
    assert pointer_content_key(legacy.state()) == legacy.hash()


def test_missing_store_rejected(tmp_path: Path) -> None:
    with pytest.raises(CacheStoreError):
        open_cache_store(str(tmp_path / "absent"))
    with pytest.raises(CacheStoreError):
        open_cache_store(f"oci:{tmp_path / 'absent' / 'cache'}")


def test_missing_registry_repository_rejected(registry) -> None:  # type: ignore[no-untyped-def]
    store = open_cache_store(f"{registry.address}/inspect/never-pushed")
    try:
        with pytest.raises(CacheStoreError):
            list_cache(store, ttl=TTL)
    finally:
        store.close()


def test_cache_frame_columns(builder: Callable[..., ExampleBuilder], tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    builder("two-stage", cache=cache).build("lookahead")

    frame = cache_frame(cache)

    assert len(frame) == 4
    assert set(frame["kind"]) == {"layer", "pointer"}
    assert str(frame["created"].dt.tz) == "UTC"
    assert frame.loc[frame["kind"] == "pointer", "layer_size"].isna().all()


def test_ls_cli_json_and_table(builder: Callable[..., ExampleBuilder], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    cache = str(tmp_path / "cache")
    example = builder("two-stage", cache=cache)
    example.build("lookahead")

    json_code = main(["cache", "ls", cache, "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    table_code = main(["cache", "ls", cache, "--dockerfile", str(example.dockerfile), "--context",
                       str(example.context), "--image-store", str(example.image_store)])
    table = capsys.readouterr().out

    assert json_code == 0
    assert len(document) == 4
    assert {row["kind"] for row in document} == {"layer", "pointer"}
    assert table_code == 0
    assert "4 entries, 4 would hit" in table


def test_ls_cli_needs_context_with_dockerfile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    LayoutStore(tmp_path / "cache").ensure()

    code = main(["cache", "ls", str(tmp_path / "cache"), "--dockerfile", "Dockerfile"])

    assert code == 1
    assert "--context" in capsys.readouterr().err


def test_ls_cli_default_store(builder: Callable[..., ExampleBuilder], tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "home"))
    builder("two-stage", cache=str(tmp_path / "home" / "layer-cache")).build("lookahead")

    code = main(["cache", "ls", "--format", "json"])

    assert code == 0
    assert len(json.loads(capsys.readouterr().out)) == 4
