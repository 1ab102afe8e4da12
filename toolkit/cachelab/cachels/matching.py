"""Marking the cache entries that a Dockerfile's current keys would hit.

The keys come from the planner, as the builder would compute them: `plan()`
(kaniko's lookahead pass, which also follows pointers of `COPY --from` when the
profile enables inference) and `static_keys()` (the keys of a cold build). This
module computes no key itself. Keys that need the files of a stage built in the
same run are unknown before building, so entries only those keys name stay
unmarked.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from cachelab.cachels.errors import CacheStoreError
from cachelab.cachels.listing import CacheRow
from cachelab.oci.cache import KanikoLayoutCache, LayoutLayerCache, RegistryLayerCache
from cachelab.plan.decisions import StagePlan
from cachelab.plan.interfaces import LayerCache

# The oci caches match the planner's LayerCache structurally: their CachedLayer
# has the fields of its CacheEntry, which mypy cannot see through the protocol.
OCILayerCache = LayoutLayerCache | KanikoLayoutCache | RegistryLayerCache

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KeyUse:
    """An instruction that uses a key: as its layer key, or as the inferred key of a pointer."""

    key: str
    role: str  # "layer" or "pointer"
    stage: int  # the stage the instruction is written in, even when squashed into another
    line: int
    text: str

    def describe(self) -> str:
        via = " (pointer)" if self.role == "pointer" else ""
        return f"stage {self.stage} line {self.line}: {self.text}{via}"


def key_uses(plans: Sequence[StagePlan]) -> dict[str, list[KeyUse]]:
    """Collect every instruction key and inferred pointer key of `plans`, by key."""
    uses: dict[str, list[KeyUse]] = {}
    for stage in plans:
        for instruction in stage.instructions:
            candidates = [(instruction.key, "layer"), (instruction.redirect_key, "pointer")]
            for key, role in candidates:
                if key is None:
                    continue
                use = KeyUse(key, role, instruction.origin_stage, instruction.line, instruction.text)
                if use not in uses.setdefault(key, []):
                    uses[key].append(use)
    return uses


def dockerfile_key_uses(
    dockerfile: str | os.PathLike[str],
    context: str | os.PathLike[str],
    *,
    cache: LayerCache | OCILayerCache,
    profile: str = "kaniko-lookahead",
    build_args: Mapping[str, str] | None = None,
    targets: Sequence[str] = (),
    platform: str | None = None,
    image_store: str | os.PathLike[str] | None = None,
    insecure: Sequence[str] = (),
) -> dict[str, list[KeyUse]]:
    """Plan `dockerfile` against `cache` and return the keys its instructions use.

    Base images are resolved as the builder resolves them: the local image store
    first (busybox is imported there from the host when missing), then their
    registry.
    """
    from cachelab.build.images import BuildImages
    from cachelab.build.stores import default_image_store
    from cachelab.dockerfile.parse import load_dockerfile
    from cachelab.keys.flags import profile as named_profile
    from cachelab.plan.planner import Planner

    try:
        options = named_profile(profile)
    except KeyError as error:
        raise CacheStoreError(str(error.args[0]), hint="Pass one of the profiles listed.") from None
    if not Path(context).is_dir():
        raise CacheStoreError(f"build context {context} is not a directory",
                              hint="Pass --context with the directory the build used.")
    images = BuildImages(image_store or default_image_store(), insecure=insecure)
    try:
        planner = Planner(
            load_dockerfile(dockerfile), options=options, context_dir=context, cache=cast(LayerCache, cache),
            images=images,
            build_args=dict(build_args or {}), targets=targets, platform=platform, dockerfile_path=dockerfile,
        )
        plans = planner.plan()
        static = planner.static_keys()
    finally:
        images.close()
    return key_uses([*plans, *static.values()])


def mark_dockerfile_hits(rows: Sequence[CacheRow], uses: Mapping[str, Sequence[KeyUse]]) -> int:
    """Set `match` and `hit_by` on the rows whose key the Dockerfile uses; returns how many.

    A layer entry matches an instruction's layer key, and a pointer entry an
    inferred key. An expired entry is marked "expired", because kaniko treats
    it as a miss.
    """
    marked = 0
    for row in rows:
        expected_role = "pointer" if row.kind == "pointer" else "layer"
        matching = [use for use in uses.get(row.key, ()) if use.role == expected_role]
        if not matching:
            continue
        row.match = "expired" if row.expired else "hit"
        row.hit_by = "; ".join(use.describe() for use in matching)
        marked += 1
    return marked
