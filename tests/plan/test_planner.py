"""Planner decisions: strategies, the build pass with saved files, expiry, unkeyed stages,
elimination and re-squash."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.flags import KanikoOptions, profile
from cachelab.plan.errors import PlanOrderError
from cachelab.plan.images import FileImageSource, SavedImage
from cachelab.plan.interfaces import CacheEntry
from cachelab.plan.memory import MemoryCache
from cachelab.plan.planner import Planner
from tests.plan.casefiles import CASES_DIR, RecordedImageSource, load_case

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
BASE = "example.org/busybox:1"

CASE01 = (CASES_DIR / "01-copy-from-stale-hit" / "Dockerfile").read_text()


def busybox() -> RecordedImageSource:
    return RecordedImageSource(load_case("01-copy-from-stale-hit")["base_images"])


def make_planner(
    text: str, options: KanikoOptions, cache: MemoryCache | None, context: Path, **kwargs: object,
) -> Planner:
    return Planner(
        parse_dockerfile(text), options=options, context_dir=context, cache=cache, images=busybox(),
        now=NOW, **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def builder_output(tmp_path: Path) -> Path:
    # What the builder saves of stage 0 for the COPY --from: `tr a-z A-Z` of app.txt.
    saved = tmp_path / "deps0"
    saved.mkdir()
    (saved / "out.txt").write_text("HELLO V1\n")
    os.chmod(saved / "out.txt", 0o644)
    return saved


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the expected keys hash files owned by uid 0 and gid 0; run the tests as root")


class AlwaysHitCache(MemoryCache):
    """A cache holding every key except `missing`; every entry is a pointer to sha256(key)."""

    def __init__(self, missing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__()
        self.missing = set(missing)

    def lookup(self, key: str) -> CacheEntry | None:
        self.lookups.append(key)
        if key in self.missing:
            return None
        return CacheEntry(key=key, created=NOW, pointer_target=target_of(key))


def target_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_no_cache_probes_and_pushes_nothing(context: Path) -> None:
    cache = MemoryCache()
    planner = make_planner(CASE01, profile("no-cache"), cache, context)

    plans = planner.dry_run()

    assert cache.lookups == []
    assert [i.decision for p in plans for i in p.instructions] == ["unkeyed"] * 4
    assert not any(i.push_layer for p in plans for i in p.instructions)
    assert plans[0].key_blockers == ["no-cache"]
    assert plans[0].key_a_priori is False
    assert plans[0].should_unpack is True


def test_build_pass_keys_copy_from_saved_files(context: Path, builder_output: Path) -> None:
    needs_root()
    planner = make_planner(CASE01, profile("kaniko-copy"), MemoryCache(), context)

    first = planner.plan_stage(0)
    planner.stage_done(0)
    final = planner.plan_stage(1, lambda source: (str(builder_output), f"/kaniko/deps/{source}"))

    # Keys kaniko v1.28.3 logged for this build (classic mode with --cache-copy-layers).
    assert first.final_key == "cf26db8747617cf6d803f82ed8bfcb167dabeb608a2273751aafeda2a590bfa3"
    assert final.instructions[0].key == "fb3ee9bfd96fbf846512a04fa52814ea8693160e0722fa939d9985c60faab074"
    assert final.instructions[0].key_source == "content"
    assert final.instructions[0].files_hashed == 1
    assert final.final_key == "a9427c0272dd79af747255068bdfc00b4ddf6128cf28762836f74797a20e5dc6"
    assert final.instructions[0].push_pointer is None


def test_build_pass_plans_pointer_after_copy_from(context: Path, builder_output: Path) -> None:
    needs_root()
    planner = make_planner(CASE01, profile("kaniko-lookahead"), MemoryCache(), context)
    planner.precompute()
    planner.eliminate()

    planner.plan_stage(0)
    planner.stage_done(0)
    final = planner.plan_stage(1, lambda source: (str(builder_output), f"/kaniko/deps/{source}"))

    copy = final.instructions[0]
    assert copy.redirect_key == "1a023b942f43edf5d92125d0e46c8533e0c0ed39e6ad0a99fb48cdb50c6da258"
    assert copy.redirect_hit is False
    assert copy.key == "9122f8e1ceec6d90b38e2100d59627239d43230de960c82e03909b039dc61431"
    assert copy.decision == "miss"
    assert copy.push_layer is True
    assert copy.push_pointer is not None
    assert copy.push_pointer.key == copy.redirect_key
    assert copy.push_pointer.target == copy.key
    assert final.final_key == "265a1983814a" + final.final_key[12:]


def test_precompute_stops_at_unresolved_copy_from(context: Path) -> None:
    planner = make_planner(CASE01, profile("kaniko-lookahead"), MemoryCache(), context)

    precomputed = planner.precompute()

    final = precomputed[1]
    assert [i.decision for i in final.instructions] == ["unkeyed", "unkeyed"]
    assert final.instructions[0].redirect_key is not None
    assert final.final_key is None
    assert final.key_blockers == ["copy-from-content"]
    assert precomputed[0].key_a_priori is True


def test_stage_on_unkeyed_base_is_unkeyed(context: Path) -> None:
    text = CASE01.replace("FROM example.org/busybox:1\n", "FROM example.org/busybox:1 AS copier\n")
    text += "\nFROM copier AS child\nRUN echo child\n"
    planner = make_planner(text, profile("kaniko-lookahead"), MemoryCache(), context, targets=["copier", "child"])

    precomputed = planner.precompute()

    assert precomputed[2].final_key is None
    assert precomputed[2].key_blockers == ["base-stage-unkeyed"]
    assert [i.decision for i in precomputed[2].instructions] == ["unkeyed"]


def test_inference_disabled_blocker(context: Path) -> None:
    options = profile("kaniko-copy").with_changes(cache_lookahead=True)
    planner = make_planner(CASE01, options, MemoryCache(), context)

    precomputed = planner.precompute()

    assert precomputed[1].key_blockers == ["inference-disabled"]
    assert precomputed[1].instructions[0].redirect_key is None


@pytest.mark.parametrize(
    ("age_hours", "decision", "expired"), [(337, "miss", True), (335, "hit", False)],
)
def test_cache_ttl_decides_hit(context: Path, age_hours: int, decision: str, expired: bool) -> None:
    text = f"FROM {BASE}\nRUN echo one > /one\n"
    options = profile("kaniko")
    key = make_planner(text, options, None, context).static_keys()[0].instructions[0].key
    assert key is not None
    cache = MemoryCache()
    cache.put_layer_bytes(key, created_by="RUN echo one > /one", created=NOW - timedelta(hours=age_hours))

    plan = make_planner(text, options, cache, context).plan_stage(0)

    run = plan.instructions[0]
    assert run.decision == decision
    assert run.expired is expired
    assert (run.entry is not None) is (decision == "hit")
    assert run.push_layer is expired
    assert plan.should_unpack is expired


@pytest.mark.parametrize(("probe_after_miss", "third"), [(False, "not-probed"), (True, "hit")])
def test_miss_stops_later_probes(context: Path, probe_after_miss: bool, third: str) -> None:
    text = f"FROM {BASE}\nRUN echo one\nRUN echo two\nRUN echo three\n"
    options = profile("kaniko").with_changes(cache_probe_after_miss=probe_after_miss)
    keys = [i.key for i in make_planner(text, options, None, context).static_keys()[0].instructions]
    cache = MemoryCache()
    for key in (keys[0], keys[2]):
        assert key is not None
        cache.put_layer_bytes(key, created_by="RUN", created=NOW)

    plan = make_planner(text, options, cache, context).plan_stage(0)

    assert [i.decision for i in plan.instructions] == ["hit", "miss", third]
    assert plan.instructions[2].push_layer is (third != "hit")


def test_metadata_keyed_but_never_probed(context: Path) -> None:
    text = f"FROM {BASE}\nENV A=1\nRUN echo $A\n"
    cache = MemoryCache()
    plan = make_planner(text, profile("kaniko"), cache, context).plan_stage(0)

    assert plan.instructions[0].key is not None
    assert plan.instructions[0].decision == "not-probed"
    assert plan.instructions[0].push_layer is False
    assert cache.lookups == [plan.instructions[1].key]


def test_plan_stage_before_base_done_raises(context: Path) -> None:
    text = f"FROM {BASE} AS base\nRUN echo base\nFROM base AS one\nRUN echo one\nFROM base AS two\nRUN echo two\n"
    planner = make_planner(text, profile("kaniko"), MemoryCache(), context, targets=["one", "two"])

    with pytest.raises(PlanOrderError, match="stage 0"):
        planner.plan_stage(2)


def test_unused_and_squashed_stage_actions(context: Path) -> None:
    text = (
        f"FROM {BASE} AS unused\nRUN echo unused\n"
        f"FROM {BASE} AS base\nRUN echo base\n"
        "FROM base\nRUN echo final\n"
    )
    planner = make_planner(text, profile("kaniko"), MemoryCache(), context)

    plans = planner.plan()

    assert [p.action for p in plans] == ["unused", "squashed", "built"]
    assert plans[1].squashed_into == 2
    assert plans[2].absorbed == (1,)
    assert [i.origin_stage for i in plans[2].instructions] == [1, 2]
    assert planner.build_order() == [2]


ONBUILD_DOCKERFILE = f"""\
FROM {BASE} AS base
{{onbuild}}RUN echo base > /base
FROM base AS child
RUN echo child > /child
FROM {BASE} AS final
COPY --from=base /base /base
COPY --from=child /child /child
"""


def eliminated_planner(text: str, context: Path) -> Planner:
    # Every lookup hits except the layer of the COPY from `child`, so `child` survives
    # with `base` as its only FROM-dependency while the COPY from `base` hits.
    options = profile("kaniko-lookahead")
    probe = make_planner(text, options, AlwaysHitCache(), context)
    redirect = probe.precompute()[2].instructions[1].redirect_key
    assert redirect is not None
    planner = make_planner(text, options, AlwaysHitCache({target_of(redirect)}), context)
    planner.eliminate()
    return planner


def test_resquash_merges_single_use_base(context: Path) -> None:
    planner = eliminated_planner(ONBUILD_DOCKERFILE.format(onbuild=""), context)

    assert planner.eliminated == []
    assert planner.squashed_into == {0: 1}
    assert planner.build_order() == [1, 2]
    assert planner.precomputed[1].final_key is not None


def test_resquash_skips_base_declaring_onbuild(context: Path) -> None:
    planner = eliminated_planner(ONBUILD_DOCKERFILE.format(onbuild="ONBUILD RUN echo trigger\n"), context)

    assert planner.squashed_into == {}
    assert planner.build_order() == [0, 1, 2]
    child = planner.precomputed[1]
    assert [i.text for i in child.instructions] == ["RUN echo trigger", "RUN echo child > /child"]


def test_eliminated_stage_costs_nothing(context: Path) -> None:
    text = CASE01
    options = profile("kaniko-lookahead")
    planner = make_planner(text, options, AlwaysHitCache(), context)
    images = planner.bases.images
    assert isinstance(images, RecordedImageSource)

    planner.eliminate()
    plans = planner.plan()

    assert planner.eliminated == [0]
    assert planner.build_order() == [1]
    assert planner.dropped_plan(0).action == "eliminated"
    assert plans[0].action == "eliminated"
    assert plans[0].should_unpack is False
    assert plans[1].should_unpack is False
    assert [i.decision for i in plans[1].instructions] == ["hit", "hit"]


def test_unused_stage_costs_nothing(context: Path) -> None:
    # The unused stage names a base that no image source contains and copies a file
    # that does not exist. Planning must neither resolve the one nor hash the other.
    text = (
        "FROM example.org/unknown:1 AS unused\nCOPY missing.txt /m\n"
        f"FROM {BASE}\nMAINTAINER someone\nRUN echo final\n"
    )
    planner = make_planner(text, profile("kaniko-lookahead"), MemoryCache(), context)

    plans = planner.dry_run()

    assert plans[0].action == "unused"
    assert plans[0].instructions == []
    assert planner.bases.images.resolved == [BASE]  # type: ignore[attr-defined]
    assert [i.decision for i in plans[1].instructions] == ["unkeyed", "miss"]
    assert plans[1].instructions[0].key is None


def test_base_reported_done_without_plan_keeps_env(context: Path) -> None:
    text = f"FROM {BASE} AS base\nENV FLAVOR=blue\nFROM base AS one\nRUN echo $FLAVOR\nFROM base AS two\nRUN true\n"
    options = profile("kaniko")
    full = make_planner(text, options, MemoryCache(), context, targets=["one", "two"])
    full.stage_done(0, full.plan_stage(0).final_key)
    expected = full.plan_stage(1).instructions[0].key

    planner = make_planner(text, options, MemoryCache(), context, targets=["one", "two"])
    planner.stage_done(0, full.static_keys()[0].final_key)
    run = planner.plan_stage(1).instructions[0]

    assert run.key == expected
    assert "FLAVOR=blue" in run.parts


@pytest.mark.parametrize(
    ("rolling", "expected"),
    [
        (False, "050835ba96388927fc531278df3c35a3b89d0edac36e4d43ce97a0949fa8f418"),
        (True, "ea8986bb45bd55cd793ad2b472624cd321c85d67b7ac16c097778f7e95bf9941"),
    ],
)
def test_seed_from_saved_busybox_files(context: Path, rolling: bool, expected: str) -> None:
    data = Path(__file__).resolve().parent.parent / "keys" / "data"
    images = FileImageSource({BASE: SavedImage(data / "busybox-manifest.json", data / "busybox-config.json")})
    text = (CASES_DIR / "23-probe-after-miss" / "Dockerfile").read_text()
    planner = Planner(
        parse_dockerfile(text), options=profile("kaniko").with_changes(rolling_cache_key=rolling),
        context_dir=context, cache=None, images=images, now=NOW,
    )

    first = planner.static_keys()[0].instructions[0]

    # The key kaniko v1.28.3 logged for `RUN echo one > /one` on this base.
    assert first.key == expected


@pytest.mark.parametrize("profile_name", ["kaniko", "kaniko-copy"])
def test_build_pass_keys_each_instruction_once(context: Path, profile_name: str) -> None:
    planner = make_planner(CASE01, profile(profile_name), MemoryCache(), context)
    calls: list[str] = []
    keyed = planner.keyer.parts

    def counting_parts(instruction, environment, *, source):  # type: ignore[no-untyped-def]
        calls.append(instruction.text)
        return keyed(instruction, environment, source=source)

    planner.keyer.parts = counting_parts  # type: ignore[method-assign]
    plan = planner.plan_stage(0)

    assert calls == ["COPY app.txt /src/app.txt", "RUN tr a-z A-Z < /src/app.txt > /out.txt"]
    assert plan.key_a_priori is True
    assert plan.key_blockers == []


def test_structural_a_priori_stops_at_copy_from(context: Path, builder_output: Path) -> None:
    planner = make_planner(CASE01, profile("kaniko-copy"), MemoryCache(), context)
    planner.stage_done(0, planner.plan_stage(0).final_key)

    final = planner.plan_stage(1, lambda source: (str(builder_output), f"/kaniko/deps/{source}"))

    assert [i.a_priori for i in final.instructions] == [False, False]
    assert final.key_a_priori is False
    assert final.key_blockers == ["inference-disabled"]
