"""The `graph` strategy on the real builder, against `lookahead` on the same examples.

`graph` keys a `COPY --from` by its source stage's key, so it needs no pointer
entries: where a pointer is missing, lookahead must build the source stage to
hash its files, while graph still eliminates it. Assertions read the events and
plans, never times.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cachelab.oci.cache import open_layer_cache
from cachelab.oci.layout import LayoutStore
from tests.fixtures.builder import Built, ExampleBuilder

MakeBuilder = Callable[..., ExampleBuilder]
SMALL_THREE_STAGE = {"52428800": "1048576"}


def _actions(built: Built) -> dict[int, str]:
    return {plan.index: plan.action for plan in built.result.stages}


def _delete_pointers(cache_dir: str) -> int:
    """Untag every pointer entry of a layout cache store; return how many there were."""
    store = LayoutStore(cache_dir)
    cache = open_layer_cache(cache_dir)
    pointers = [tag for tag in store.tags() if (entry := cache.lookup(tag)) and entry.pointer_target]
    for tag in pointers:
        store.untag(tag)
    return len(pointers)


def test_graph_warm_eliminates_source_stage(builder: MakeBuilder, cache_location: str) -> None:
    example = builder("two-stage", cache=cache_location)
    cold = example.build("graph")
    warm = example.build("graph")

    assert _actions(cold) == {0: "built", 1: "built"}
    # Stage 1 derives FROM stage 0, so elimination squashes 0 into 1 rather than dropping it.
    assert warm.stage_events[1].action == "built"
    assert warm.decisions(1)[-2:] == ["hit", "hit"]
    assert all(event.decision == "hit" for event in warm.instructions() if event.decision != "skipped")
    assert warm.span_bytes("unpack") == 0
    assert sum(event.files_hashed or 0 for event in warm.instructions()) == 0
    copy = next(event for event in warm.instructions(1) if event.instruction.startswith("COPY --from"))
    assert copy.key_source == "inferred"
    assert copy.redirect_key is None
    assert warm.layer_digests == cold.layer_digests


def test_graph_pushes_no_pointers(builder: MakeBuilder, tmp_path: Path) -> None:
    cache_dir = str(tmp_path / "graph-cache")
    example = builder("fan-in", cache=cache_dir)
    example.build("graph")

    assert _delete_pointers(cache_dir) == 0


def test_graph_keys_cold_build_a_priori(builder: MakeBuilder, tmp_path: Path) -> None:
    graph = builder("fan-in", cache=str(tmp_path / "graph-cache")).build("graph")
    lookahead = builder("fan-in", cache=str(tmp_path / "lookahead-cache")).build("lookahead")

    # Without pointers on a cold cache, lookahead cannot key the final stage's
    # COPY --from before the producers are built; graph keys it from their keys.
    assert graph.stage_events[3].key_a_priori is True
    assert lookahead.stage_events[3].key_a_priori is False
    assert "copy-from-content" in lookahead.stage_events[3].key_blockers
    assert all(event.a_priori for event in graph.instructions(3))


def test_graph_eliminates_where_pointers_are_missing(builder: MakeBuilder, tmp_path: Path) -> None:
    results = {}
    for strategy in ("lookahead", "graph"):
        cache_dir = str(tmp_path / f"{strategy}-cache")
        example = builder("three-stage", cache=cache_dir, replace=SMALL_THREE_STAGE)
        example.build(strategy)
        deleted = _delete_pointers(cache_dir)
        results[strategy] = (deleted, example.build(strategy))

    lookahead_deleted, lookahead = results["lookahead"]
    graph_deleted, graph = results["graph"]
    assert lookahead_deleted == 2
    assert graph_deleted == 0
    # Lookahead's COPY --from keys need pointers; without them it rebuilds
    # gen and mid from cached layers to hash the copied files.
    assert _actions(lookahead) == {0: "built", 1: "built", 2: "built"}
    assert lookahead.stage_events[0].unpacked is True
    assert lookahead.span_bytes("download", 0) > 0
    assert _actions(graph) == {0: "eliminated", 1: "eliminated", 2: "built"}
    assert graph.span_bytes("download") == 0
    assert graph.span_bytes("unpack") == 0
    assert graph.decisions(2) == ["hit", "hit"]


@pytest.mark.parametrize("example_name", ["two-stage", "fan-in", "from-chain", "nondeterministic"])
def test_graph_warm_has_no_misses(builder: MakeBuilder, tmp_path: Path, example_name: str) -> None:
    example = builder(example_name, cache=str(tmp_path / "cache"))
    example.build("graph")
    warm = example.build("graph")

    assert [event.line for event in warm.instructions() if event.decision == "miss"] == []
    assert warm.result.image_digest is not None


def test_graph_context_edit_misses_dependents(builder: MakeBuilder, tmp_path: Path) -> None:
    example = builder("fan-in", cache=str(tmp_path / "cache"))
    example.build("graph")
    (example.context / "config.ini").write_text("mode=debug\n")
    edited = example.build("graph")

    # The final stage's COPY from `config` misses, so every later instruction of
    # the stage executes too and needs the files of `assets`, whose RUN hits.
    assert _actions(edited) == {0: "eliminated", 1: "built", 2: "built", 3: "built"}
    assert edited.decisions(1) == ["miss", "not-probed"]
    assert edited.decisions(2) == ["hit"]
    assert edited.decisions(3)[:2] == ["hit", "miss"]
    assert "hit" not in edited.decisions(3)[2:]


def test_graph_records_key_parts(builder: MakeBuilder, tmp_path: Path) -> None:
    declare_token = {"FROM busybox AS config\n": "FROM busybox AS config\nARG TOKEN\n"}
    example = builder("fan-in", cache=str(tmp_path / "cache"), replace=declare_token)
    built = example.build("graph", build_args={"TOKEN": "secret-value"})

    config_copy = built.instructions(1)[1]
    assert config_copy.key_parts[0] == "instruction:COPY config.ini /src/config.ini"
    assert config_copy.key_parts[1].startswith("file:config.ini:")
    run = built.instructions(1)[2]
    env = [part for part in run.key_parts if part.startswith("env:")]
    assert any(part.startswith("env:TOKEN=sha256:") for part in env), run.key_parts
    assert all("=sha256:" in part for part in env)
    assert not any("secret-value" in part for event in built.instructions() for part in event.key_parts)
    docs_copy = built.instructions(3)[0]
    assert docs_copy.key_parts[-1] == "inferred:" + built.stage_events[0].final_key
