"""Plans of kaniko's multistage-lookahead example against kaniko's own golden plans.

The Dockerfile and the expected plan lines are those of kaniko's golden test for
multistage lookahead (osscontainertools/kaniko, commit 6bcc934). kaniko's golden
harness uses a cache in which every probed key exists as a pointer to itself,
and `self_pointing_cache` builds the same. Keys depend on the base image's seed,
so the expected keys are derived here from the seed of the project's busybox
base. The chain test checks kaniko's own key values by starting from kaniko's
final key of the first stage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.composite import EMPTY_STATE, roll, sha256_hex
from cachelab.keys.flags import KanikoOptions, profile
from cachelab.plan.images import FileImageSource, SavedImage
from cachelab.plan.memory import MemoryCache
from cachelab.plan.planner import Planner

BASE = "busybox@sha256:fd8d9aa63ba2f0982b5304e1ee8d3b90a210bc1ffb5314d980eb6962f1a9715d"
SEED = "sha256:abd548d2d0296f1aaf7df212f4abc6129eb0633e9b390f98ba69d69e09a51f37"
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DATA = Path(__file__).resolve().parent.parent / "keys" / "data"
NOW = datetime(2026, 3, 1, tzinfo=UTC)

DOCKERFILE = f"""\
FROM {BASE} AS first
RUN touch /blubb

FROM first AS second
RUN touch /bla

FROM second AS third
RUN touch /bli

FROM second AS final
COPY --from=first /blubb /blubb
COPY --from=third /bli /bli
RUN ls -lah /blubb
"""

# kaniko's final keys of this Dockerfile (rolling keys, kaniko's busybox base).
KANIKO_S0 = "ec50b204a07f169d1beec66434b673ca44caf8b98ee6c98e886320969926d029"
KANIKO_CHAIN = [
    "9097bbf817837a54a5ba9b91d9d2a771a145d25f5389c96a4c3315119aa482a5",
    "dd8070993f952ce8287efcf5c6b32d3d2399905c6fc8dc9b4036d4196b80e10f",
    "8ef1283833b79b08b093a99de08ffc3fed1fbbf8fb328f81e9d7561af0524e95",
    "c59fad0bd865d2ed209d0f7a29d55161a8332681a1b68abc9e98da2dca1254cb",
    "e3d0a39d0f55303c063b93635b40f56d535f5bd2b48b770af66bf0fe61b7debc",
]


def legacy(*parts: str) -> str:
    return sha256_hex("-".join(parts))


def rolling_chain(seed: str) -> list[str]:
    s0 = roll(roll(EMPTY_STATE, [seed]), ["|1", PATH, "RUN touch /blubb"])
    s1 = roll(s0, ["|1", PATH, "RUN touch /bla"])
    s2 = roll(s1, ["|1", PATH, "RUN touch /bli"])
    c1 = roll(s1, ["COPY --from=first /blubb /blubb", s0])
    c2 = roll(c1, ["COPY --from=third /bli /bli", s2])
    r = roll(c2, ["|1", PATH, "RUN ls -lah /blubb"])
    return [s0, s1, s2, c1, c2, r]


def legacy_keys(seed: str) -> list[str]:
    first = legacy(seed, "|1", PATH, "RUN touch /blubb")
    second = legacy(first, "|1", PATH, "RUN touch /bla")
    third = legacy(second, "|1", PATH, "RUN touch /bli")
    return [first, second, third]


def self_pointing_cache(keys: list[str]) -> MemoryCache:
    cache = MemoryCache()
    for key in keys:
        cache.put_pointer(key, key, created=NOW)
    return cache


def make_planner(options: KanikoOptions, cache: MemoryCache, tmp_path: Path) -> Planner:
    images = FileImageSource({
        BASE: SavedImage(manifest=DATA / "busybox-manifest.json", config=DATA / "busybox-config.json"),
    })
    return Planner(
        parse_dockerfile(DOCKERFILE), options=options, context_dir=tmp_path, cache=cache,
        images=images, now=NOW,
    )


def lookahead(**flags: bool) -> KanikoOptions:
    return profile("kaniko-copy").with_changes(cache_lookahead=True, **flags)


PLAN = f"""\
FROM {BASE} AS first
  STREAM {BASE}
RUN touch /blubb
SAVE STAGE /kaniko/stages/0
SAVE FILES [/blubb] /kaniko/deps/0
CLEAN

FROM first AS second
  UNPACK /kaniko/stages/0
RUN touch /bla
SAVE STAGE /kaniko/stages/1
CLEAN

FROM second AS third
  UNPACK /kaniko/stages/1
RUN touch /bli
SAVE FILES [/bli] /kaniko/deps/2
CLEAN

FROM second AS final
  UNPACK /kaniko/stages/1
COPY --from=first /blubb /blubb
COPY --from=third /bli /bli
RUN ls -lah /blubb
"""

SOURCE_STAGES = """\
FROM {base} AS first
  STREAM {base}
RUN touch /blubb
  CACHE HIT: {k[0]}
SAVE STAGE /kaniko/stages/0
SAVE FILES [/blubb] /kaniko/deps/0
CLEAN

FROM first AS second
  UNPACK /kaniko/stages/0
RUN touch /bla
  CACHE HIT: {k[1]}
SAVE STAGE /kaniko/stages/1
CLEAN

FROM second AS third
  UNPACK /kaniko/stages/1
RUN touch /bli
  CACHE HIT: {k[2]}
SAVE FILES [/bli] /kaniko/deps/2
CLEAN

"""

CACHED = SOURCE_STAGES + """\
FROM second AS final
  UNPACK /kaniko/stages/1
COPY --from=first /blubb /blubb
COPY --from=third /bli /bli
RUN ls -lah /blubb
"""

INFERRED = SOURCE_STAGES + """\
FROM second AS final
  UNPACK /kaniko/stages/1
COPY --from=first /blubb /blubb
  CACHE REDIRECT HIT: {k[3]}
  CACHE HIT: {k[3]}
COPY --from=third /bli /bli
  CACHE REDIRECT HIT: {k[4]}
  CACHE HIT: {k[4]}
RUN ls -lah /blubb
  CACHE HIT: {k[5]}
"""

ELIMINATED = """\
FROM {base} AS final
  STREAM {base}
RUN touch /blubb
  CACHE HIT: {k[0]}
RUN touch /bla
  CACHE HIT: {k[1]}
COPY --from=first /blubb /blubb
  CACHE REDIRECT HIT: {k[3]}
  CACHE HIT: {k[3]}
COPY --from=third /bli /bli
  CACHE REDIRECT HIT: {k[4]}
  CACHE HIT: {k[4]}
RUN ls -lah /blubb
  CACHE HIT: {k[5]}
"""


def test_plan_without_cache_lines(tmp_path: Path) -> None:
    planner = make_planner(profile("kaniko-copy"), MemoryCache(), tmp_path)

    assert planner.render_plan() == PLAN


def test_plan_cached_legacy_keys(tmp_path: Path) -> None:
    keys = legacy_keys(SEED)
    planner = make_planner(lookahead(), self_pointing_cache(keys), tmp_path)

    assert planner.render_plan() == CACHED.format(base=BASE, k=keys)


def test_plan_inferred_rolling_keys(tmp_path: Path) -> None:
    keys = rolling_chain(SEED)
    options = lookahead(infer_cross_stage_cache_key=True, rolling_cache_key=True)
    planner = make_planner(options, self_pointing_cache(keys), tmp_path)

    assert planner.render_plan() == INFERRED.format(base=BASE, k=keys)


def test_plan_eliminated_squashes_into_final(tmp_path: Path) -> None:
    keys = rolling_chain(SEED)
    options = lookahead(infer_cross_stage_cache_key=True, rolling_cache_key=True, skip_cached_stages=True)
    planner = make_planner(options, self_pointing_cache(keys), tmp_path)

    text = planner.render_plan()

    assert planner.eliminated == [2]
    assert planner.squashed_into[0] == 3
    assert planner.squashed_into[1] == 3
    assert text == ELIMINATED.format(base=BASE, k=keys)


def test_eliminated_plan_keys_equal_unsquashed(tmp_path: Path) -> None:
    keys = rolling_chain(SEED)
    inferred = lookahead(infer_cross_stage_cache_key=True, rolling_cache_key=True)
    eliminated = inferred.with_changes(skip_cached_stages=True)

    plain = make_planner(inferred, self_pointing_cache(keys), tmp_path)
    squashed = make_planner(eliminated, self_pointing_cache(keys), tmp_path)
    plain.eliminate()
    squashed.eliminate()

    assert [i.key for i in squashed.precomputed[3].instructions] == [
        keys[0], keys[1], keys[3], keys[4], keys[5],
    ]
    assert plain.precomputed[3].final_key == squashed.precomputed[3].final_key


def test_eliminated_plan_builds_only_final_without_unpack(tmp_path: Path) -> None:
    keys = rolling_chain(SEED)
    options = lookahead(infer_cross_stage_cache_key=True, rolling_cache_key=True, skip_cached_stages=True)
    cache = self_pointing_cache(keys)
    planner = make_planner(options, cache, tmp_path)

    assert planner.build_order() == [3]
    plan = planner.plan_stage(3)

    assert plan.should_unpack is False
    assert [i.decision for i in plan.instructions] == ["hit"] * 5
    assert [i.push_layer for i in plan.instructions] == [False] * 5
    assert plan.final_key == keys[5]


def test_chain_keys_from_kaniko_first_stage(tmp_path: Path) -> None:
    # Starting from kaniko's own final key of `first`, the rest of the chain must be
    # kaniko's keys exactly: resume, the RUN env block and the inferred COPY parts.
    chain = [KANIKO_S0, *KANIKO_CHAIN]
    options = profile("kaniko-copy").with_changes(infer_cross_stage_cache_key=True, rolling_cache_key=True)
    planner = make_planner(options, self_pointing_cache(chain), tmp_path)

    planner.plan_stage(0)
    planner.stage_done(0, KANIKO_S0)
    second = planner.plan_stage(1)
    planner.stage_done(1)
    third = planner.plan_stage(2)
    planner.stage_done(2)
    final = planner.plan_stage(3)

    assert second.instructions[0].key == KANIKO_CHAIN[0]
    assert third.instructions[0].key == KANIKO_CHAIN[1]
    assert [i.redirect_key for i in final.instructions[:2]] == KANIKO_CHAIN[2:4]
    assert [i.key for i in final.instructions] == KANIKO_CHAIN[2:]
    assert [i.key_source for i in final.instructions] == ["inferred", "inferred", "text"]


@pytest.mark.parametrize("variant", ["legacy", "rolling"])
def test_first_stage_keys_use_busybox_seed(variant: str, tmp_path: Path) -> None:
    rolling = variant == "rolling"
    options = profile("kaniko-copy").with_changes(rolling_cache_key=rolling)
    planner = make_planner(options, MemoryCache(), tmp_path)

    static = planner.static_keys()

    expected = rolling_chain(SEED)[0] if rolling else legacy_keys(SEED)[0]
    assert static[0].instructions[0].key == expected
    assert static[3].instructions[0].key is None
