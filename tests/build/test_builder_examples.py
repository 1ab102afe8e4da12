"""The builder on datasets/examples: cold and warm builds per strategy, on both cache backends.

Assertions read the events and the plans (decisions, actions, bytes of spans),
never times.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures.builder import Built, ExampleBuilder

# three-stage writes 50 MB; 1 MB keeps the same shape and the tests fast.
SMALL_THREE_STAGE = {"52428800": "1048576"}

EXAMPLES = [
    pytest.param("two-stage", {}, id="two-stage"),
    pytest.param("three-stage", SMALL_THREE_STAGE, id="three-stage-1MB"),
    pytest.param("fan-in", {}, id="fan-in"),
    pytest.param("from-chain", {}, id="from-chain"),
    pytest.param("nondeterministic", {}, id="nondeterministic"),
]

MakeBuilder = Callable[..., ExampleBuilder]
METADATA = ("CMD", "ENV", "LABEL", "ARG", "USER", "EXPOSE", "ENTRYPOINT")


def _built_stages(built: Built) -> list[int]:
    return [plan.index for plan in built.result.stages if plan.action == "built"]


def _executed_stages(built: Built) -> set[int]:
    return {
        plan.index for plan in built.result.stages
        if plan.action == "built" and any(not instruction.hit for instruction in plan.instructions)
    }


def test_per_stage_warm_rebuilds_ancestors(builder: MakeBuilder, cache_location: str) -> None:
    example = builder("two-stage", cache=cache_location)
    example.build("per-stage")
    warm = example.build("per-stage")

    assert _built_stages(warm) == [0, 1]
    assert warm.decisions(0) == ["hit"]
    assert warm.decisions(1) == ["hit", "hit"]
    # The parent stage is unpacked to save /blubb for the COPY --from.
    assert warm.stage_events[0].unpacked is True
    assert warm.span_bytes("download", 0) > 0
    assert warm.span_bytes("unpack", 0) > 0
    assert sum(event.files_hashed or 0 for event in warm.instructions(1)) == 1
    # Hashing and probing happen in the planner; their spans still belong to the stage.
    hashes = [span for span in warm.spans if span.phase == "hash-context" and span.stage_index == 1]
    assert [span.attributes["files"] for span in hashes] == ["1"]
    assert "probe-cache" in warm.phases(1)


@pytest.mark.parametrize(("example_name", "replace"), EXAMPLES)
def test_lookahead_warm_eliminates_ancestors(
    builder: MakeBuilder, cache_location: str, example_name: str, replace: dict[str, str],
) -> None:
    example = builder(example_name, cache=cache_location, replace=replace)
    example.build("lookahead")
    warm = example.build("lookahead")

    final = len(warm.result.stages) - 1
    assert _built_stages(warm) == [final]
    for plan in warm.result.stages[:-1]:
        assert plan.action in ("eliminated", "squashed"), plan
        # Only the precompute pass touched the stage: it keyed (hashing context
        # files) and probed, but nothing was downloaded, unpacked or run.
        assert set(warm.phases(plan.index)) <= {"probe-cache", "hash-context"}
    for event in warm.instructions(final):
        assert event.decision == "hit" or (event.kind in METADATA and event.decision == "not-probed"), event
    assert warm.span_bytes("download") == 0
    assert warm.span_bytes("unpack") == 0
    assert not any(span.phase == "unpack" for span in warm.spans)
    # COPY --from keys come from pointers, so no saved stage file is hashed.
    copies_from = [event for event in warm.instructions() if "--from=" in event.instruction]
    assert sum(event.files_hashed or 0 for event in copies_from) == 0
    assert warm.stage_events[final].unpacked is False


@pytest.mark.parametrize("strategy", ["per-stage", "lookahead"])
@pytest.mark.parametrize(("example_name", "replace"), EXAMPLES)
def test_warm_layers_equal_cold_layers(
    builder: MakeBuilder, strategy: str, example_name: str, replace: dict[str, str],
) -> None:
    example = builder(example_name, replace=replace)
    cold = example.build(strategy)
    warm = example.build(strategy)

    assert warm.layer_digests == cold.layer_digests
    assert warm.result.image is not None and cold.result.image is not None
    assert [layer.diff_id for layer in warm.result.image.layers] == [
        layer.diff_id for layer in cold.result.image.layers
    ]


@pytest.mark.parametrize("strategy", ["per-stage", "lookahead"])
def test_context_edit_rebuilds_its_stages(builder: MakeBuilder, cache_location: str, strategy: str) -> None:
    example = builder("fan-in", cache=cache_location)
    example.build(strategy)
    (example.context / "docs" / "intro.txt").write_text("a new introduction\n")
    edited = example.build(strategy)

    # `docs` copies the edited file; the final stage copies docs' output.
    assert _executed_stages(edited) == {0, 3}
    assert edited.decisions(0)[0] == "miss"
    assert edited.decisions(3)[0] != "hit"
    for index in (1, 2):
        plan = edited.result.stages[index]
        assert plan.action in ("built", "eliminated")
        if plan.action == "built":
            assert all(decision == "hit" for decision in edited.decisions(index))


def test_two_stage_edit_rebuilds_both(builder: MakeBuilder) -> None:
    example = builder("nondeterministic")
    example.build("lookahead")
    (example.context / "version.txt").write_text("2.0\n")
    edited = example.build("lookahead")

    assert _executed_stages(edited) == {0, 1}
    assert edited.decisions(0)[0] == "miss"


def test_no_cache_pushes_nothing(builder: MakeBuilder, tmp_path_factory: pytest.TempPathFactory) -> None:
    cache_dir = tmp_path_factory.mktemp("unused-cache") / "store"
    example = builder("two-stage", cache=str(cache_dir))
    built = example.build("no-cache")

    assert not any(span.phase in ("push-layer", "push-pointer", "probe-cache") for span in built.spans)
    assert not cache_dir.exists()
    assert all(decision == "unkeyed" for decision in built.decisions(1))
    # Without the cache only filesystem-changing instructions add layers.
    assert len(built.layer_digests) == 4


def test_cold_lookahead_pushes_layers_and_pointer(builder: MakeBuilder, cache_location: str) -> None:
    example = builder("two-stage", cache=cache_location)
    cold = example.build("lookahead")

    pushes = [span for span in cold.spans if span.phase == "push-layer"]
    pointers = [span for span in cold.spans if span.phase == "push-pointer"]
    assert len(pushes) == 3
    assert len(pointers) == 1
    assert cold.decisions(0) == ["miss"]
    assert all((span.bytes or 0) > 0 for span in pushes)
    on_registry = not cache_location.startswith("/")
    for span in pushes + pointers:
        # The registry client counts requests; a layout store makes none.
        assert ((span.requests or 0) > 0) is on_registry


def test_kaniko_layout_cache_form(builder: MakeBuilder, tmp_path_factory: pytest.TempPathFactory) -> None:
    prefix = tmp_path_factory.mktemp("kaniko-cache") / "cache"
    example = builder("two-stage", cache=f"oci:{prefix}")
    example.build("lookahead")
    warm = example.build("lookahead")

    assert _built_stages(warm) == [1]
    assert warm.decisions(1) == ["hit", "hit", "hit"]
    # kaniko's form keeps one layout directory per key: three layers and one pointer.
    assert len(list(prefix.parent.glob("cache:*"))) == 4
