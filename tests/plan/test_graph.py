"""The planner's `graph` model: COPY --from keyed by its source stage's key, no pointers.

The Dockerfile is the first kaniko case: a builder stage that hashes a context
file and a final stage that copies its output. The cache is the in-memory one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.composite import CompositeKey
from cachelab.keys.flags import profile
from cachelab.plan.graph import GRAPH_PROFILE
from cachelab.plan.memory import MemoryCache
from cachelab.plan.planner import Planner
from tests.plan.casefiles import CASES_DIR, RecordedImageSource, load_case

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
CASE01 = (CASES_DIR / "01-copy-from-stale-hit" / "Dockerfile").read_text()


def make_planner(cache: MemoryCache, context: Path, strategy: str | None = "graph") -> Planner:
    return Planner(
        parse_dockerfile(CASE01), options=profile(GRAPH_PROFILE), context_dir=context, cache=cache,
        images=RecordedImageSource(load_case("01-copy-from-stale-hit")["base_images"]), now=NOW,
        strategy=strategy,
    )


def fill(cache: MemoryCache, planner: Planner) -> None:
    """Store a layer under every cacheable key of a cold build's plan, as the builder would."""
    for plan in planner.dry_run():
        for instruction in plan.instructions:
            if instruction.push_layer and instruction.key is not None:
                cache.put_layer_bytes(instruction.key, created_by=instruction.text, created=NOW)


def test_graph_precompute_keys_every_stage_cold(context: Path) -> None:
    planner = make_planner(MemoryCache(), context)

    precomputed = planner.precompute()

    copy = precomputed[1].instructions[0]
    assert copy.key_source == "inferred"
    assert copy.decision == "miss"
    assert copy.redirect_key is None
    assert precomputed[1].key_a_priori is True
    assert precomputed[1].key_blockers == []


def test_graph_copy_key_is_chain_plus_source_key(context: Path) -> None:
    planner = make_planner(MemoryCache(), context)
    precomputed = planner.precompute()

    copy = precomputed[1].instructions[0]
    source_key = precomputed[0].final_key
    assert source_key is not None
    assert copy.parts[-1] == source_key
    assert [part.kind for part in copy.labelled_parts] == ["instruction", "inferred"]
    # The final stage starts from the base seed; its first key is the seed plus the COPY's parts.
    seed = planner.bases.seed(planner.stages[1])
    expected = CompositeKey.new(seed, mode="rolling")
    expected.add(*copy.parts)
    assert copy.key == expected.hash()


def test_graph_plans_no_pointer_push(context: Path) -> None:
    planner = make_planner(MemoryCache(), context)

    plans = planner.dry_run()

    copy = plans[1].instructions[0]
    assert copy.push_layer is True
    assert copy.push_pointer is None
    assert copy.key_source == "inferred"


def test_graph_warm_eliminates_without_pointers(context: Path) -> None:
    cache = MemoryCache()
    fill(cache, make_planner(cache, context))
    assert cache.pointers() == {}

    warm = make_planner(cache, context)
    warm.eliminate()

    assert warm.build_order() == [1]
    assert warm.eliminated == [0]
    assert [instruction.decision for instruction in warm.precomputed[1].instructions] == ["hit", "hit"]


def test_lookahead_keeps_source_without_pointers(context: Path) -> None:
    # The same layers under lookahead's keys, but no pointer entries: lookahead
    # cannot key the COPY before stage 0 is built, so stage 0 stays.
    cache = MemoryCache()
    cold = make_planner(cache, context, strategy="lookahead")
    for plan in cold.dry_run():
        for instruction in plan.instructions:
            if instruction.push_layer and instruction.key is not None:
                cache.put_layer_bytes(instruction.key, created_by=instruction.text, created=NOW)

    warm = make_planner(cache, context, strategy="lookahead")
    warm.eliminate()

    assert warm.build_order() == [0, 1]
    assert warm.precomputed[1].instructions[0].decision == "unkeyed"
    assert "copy-from-content" in warm.precomputed[1].key_blockers


def test_graph_context_edit_changes_dependent_keys(context: Path) -> None:
    before = make_planner(MemoryCache(), context).precompute()
    (context / "app.txt").write_text("hello v2\n")
    after = make_planner(MemoryCache(), context).precompute()

    assert before[0].instructions[0].key != after[0].instructions[0].key
    assert before[0].final_key != after[0].final_key
    assert before[1].instructions[0].key != after[1].instructions[0].key
    assert before[1].final_key != after[1].final_key


def test_graph_eliminates_without_source_entries(context: Path) -> None:
    # Only the consumers' entries matter: the source stage's own entries are never read.
    cache = MemoryCache()
    fill(cache, make_planner(cache, context))
    source_keys = [instruction.key for instruction in make_planner(cache, context).precompute()[0].instructions]
    for key in source_keys:
        if key is not None:
            cache.delete(key)

    warm = make_planner(cache, context)
    warm.eliminate()

    assert warm.build_order() == [1]
