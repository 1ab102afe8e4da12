"""The real builder against what kaniko v1.28.3 did in every case under tests/cases.

Each mode of a case is replayed build by build against one cache store, once
with a local layout store and once with a repository of the test registry. The
mutations of a step are applied to a copy of the context, then the builder
builds it. Every stage's action, unpacking and final key, and every
instruction's key and decision, must equal the observed ones. Unlike the
planner's case test, the content keys of `COPY --from` here hash files the
builder really produced and saved.

The base image is served by `RecordedBaseImages` (kaniko's busybox manifest and
config, the local busybox layer). A build FROM an image that an earlier build
of the case pushed cannot be served that way. `test_builder_child_of_pushed_base`
lists such builds as skipped, and the other builds of their mode still run.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from cachelab.build.builder import build
from cachelab.build.metadata import METADATA_KINDS
from cachelab.build.request import BuildRequest
from cachelab.oci.errors import ManifestNotFound
from cachelab.oci.layout import LayoutStore
from cachelab.oci.reference import parse_registry_reference
from cachelab.oci.registry import RegistryClient
from cachelab.plan.decisions import StagePlan
from tests.fixtures.builder import RecordedBaseImages
from tests.fixtures.registry import RegistryServer
from tests.plan.casefiles import CASES_DIR, apply_mutations, case_names, load_case, prepare_context
from tests.plan.test_cases import by_origin, mode_options, observed_instructions

CONFIG_ONLY = METADATA_KINDS - {"WORKDIR"}

# Deliberate divergences from kaniko, by (case, mode): none so far.
DIVERGENCES: dict[tuple[str, str], str] = {}

BUILDER_CASES = [(case, mode["mode"]) for case in case_names() for mode in load_case(case)["modes"]]

PUSHED_BASE_REASON = (
    "the base of this build is the image an earlier build of the case pushed; kaniko's seed for it is a "
    "digest over kaniko's pushed image, layers included, and the builder's push of the same Dockerfile has "
    "other layer digests (its busybox layer is not kaniko's), so the recorded keys cannot be reproduced"
)


def _pushed_bases(case: str, step: dict[str, Any]) -> list[str]:
    """Return the references that a build's mutations move to an image an earlier build of the case pushed.

    A `move-tag` of a reference that is not among the case's recorded base
    images names such an image.
    """
    recorded = load_case(case)["base_images"]
    return [
        mutation["reference"] for mutation in step["mutations"]
        if mutation["op"] == "move-tag" and mutation["reference"] not in recorded
    ]


def _store_params() -> list[Any]:
    params = []
    for case, mode in BUILDER_CASES:
        for store in ("layout", "registry"):
            params.append(pytest.param(case, mode, store, id=f"{case}-{mode}-{store}"))
    return params


class _LayoutCacheEntries:
    """The layout cache store as `apply_mutations` edits it: delete an entry by key."""

    def __init__(self, path: Path) -> None:
        self.store = LayoutStore(path)
        self.missing: list[str] = []

    def delete(self, key: str) -> None:
        if not (self.store.exists() and self.store.untag(key)):
            self.missing.append(key)

    def keys(self) -> list[str]:
        return self.store.tags() if self.store.exists() else []


class _RegistryCacheEntries:
    """A cache repository as `apply_mutations` edits it: delete an entry's manifest by key.

    The distribution API deletes manifests, not tags. NOTE: deleting an entry
    therefore also deletes every other key tagged on the same manifest. Two
    keys share a manifest only when their entries are byte-identical (same
    layer, command and creation time).
    """

    def __init__(self, registry: RegistryServer, repository: str) -> None:
        self.client = RegistryClient(registry.address, anonymous=True)
        self.repository = repository
        self.location = f"{registry.address}/{repository}"
        self.missing: list[str] = []

    def delete(self, key: str) -> None:
        try:
            self.client.delete_manifest(parse_registry_reference(f"{self.location}:{key}"))
        except ManifestNotFound:
            self.missing.append(key)

    def keys(self) -> list[str]:
        return self.client.list_tags(self.repository)

    def close(self) -> None:
        self.client.close()


def _compare(build_facts: dict[str, Any], plans: list[StagePlan], compared: list[str]) -> list[str]:
    """List every difference between the builder's plans and kaniko's observed build.

    Appends the label of every instruction whose key was compared to `compared`.
    """
    differences: list[str] = []
    step = build_facts["step"]

    def differ(subject: str, ours: object, kaniko: object) -> None:
        if ours != kaniko:
            differences.append(f"step {step}: {subject}: builder {ours!r}, kaniko {kaniko!r}")

    by_index = {plan.index: plan for plan in plans}
    for stage in build_facts["stages"]:
        plan = by_index[stage["index"]]
        label = f"stage {stage['index']}"
        # kaniko counts a stage squashed into its child as built, as part of the child.
        built_as = plan.index if plan.action == "built" else plan.squashed_into
        differ(f"{label} built as", built_as, stage["built_as"])
        differ(f"{label} eliminated", plan.action == "eliminated", stage["eliminated"])
        if stage["built"] and stage["squashed_into"] is None:
            differ(f"{label} unpacked", plan.should_unpack, stage["unpacked"])
            differ(f"{label} final key", plan.final_key, stage["final_key"])

    planned = by_origin([instruction for plan in plans if plan.action in ("built", "eliminated")
                         for instruction in plan.instructions])
    for position, seen in observed_instructions(build_facts).items():
        stage = next(item for item in build_facts["stages"] if item["index"] == position[0])
        if not stage["in_plan"]:
            continue
        instruction = planned.get(position)
        label = f"stage {position[0]} {seen['text']!r}"
        if instruction is None:
            differences.append(f"step {step}: {label}: not planned")
            continue
        differ(f"{label} key", instruction.key, seen.get("key"))
        compared.append(label)
        differ(f"{label} decision", instruction.decision, seen.get("decision"))
        # kaniko's `executed` marks commands it ran on the filesystem, never metadata ones.
        if stage["built"] and "executed" in seen and instruction.kind not in CONFIG_ONLY:
            differ(f"{label} executed", instruction.execute, seen["executed"])
    return differences


@pytest.mark.parametrize(("case", "mode", "store"), _store_params())
def test_builder_matches_kaniko(
    case: str, mode: str, store: str, tmp_path: Path, image_store: Path, request: pytest.FixtureRequest,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("kaniko hashed the context and stage files as owned by uid 0 and gid 0; run as root")
    facts = load_case(case)
    run = next(item for item in facts["modes"] if item["mode"] == mode)
    context = prepare_context(case, tmp_path / "context", facts["context"])
    images = RecordedBaseImages(image_store, facts["base_images"])
    cache: _LayoutCacheEntries | _RegistryCacheEntries
    if store == "layout":
        cache_location = str(tmp_path / "layer-cache")
        cache = _LayoutCacheEntries(tmp_path / "layer-cache")
    else:
        registry: RegistryServer = request.getfixturevalue("registry")
        cache = _RegistryCacheEntries(registry, f"cases-{uuid.uuid4().hex[:8]}")
        cache_location = cache.location
    differences: list[str] = []
    compared: list[str] = []
    built_steps = 0

    try:
        for step in run["builds"]:
            unknown = apply_mutations(step, context, cache, images)  # type: ignore[arg-type]
            if _pushed_bases(case, step):
                # Checked (and skipped) by test_builder_child_of_pushed_base. Its cache
                # entries have keys of their own, so the later builds do not depend on it.
                continue
            assert unknown == [], f"step {step['step']}: no seed recorded for {unknown}"
            build_request = BuildRequest(
                dockerfile=CASES_DIR / case / step["dockerfile"], context=context,
                options=mode_options(run, step), build_args=step["build_args"],
                targets=tuple(step["targets"]), cache=cache_location,
            )
            result = build(build_request, progress=False, images=images)
            differences.extend(_compare(step, result.stages, compared))
            built_steps += 1
        stored_keys = cache.keys()
    finally:
        images.close()
        if isinstance(cache, _RegistryCacheEntries):
            cache.close()

    assert built_steps > 0
    assert compared != []
    assert stored_keys != [], f"the builder stored no cache entry in {cache_location}"
    assert cache.missing == [], "the case deletes cache entries the builder never stored"
    assert any("--from=" in label for label in compared) or "--from=" not in str(run)
    if (case, mode) in DIVERGENCES:
        pytest.xfail(DIVERGENCES[(case, mode)])
    assert differences == []


def pushed_base_builds() -> list[tuple[str, str, int]]:
    return [
        (case, mode["mode"], step["step"])
        for case in case_names() for mode in load_case(case)["modes"] for step in mode["builds"]
        if _pushed_bases(case, step)
    ]


@pytest.mark.parametrize(
    ("case", "mode", "step"), pushed_base_builds(), ids=[f"{c}-{m}-step{s}" for c, m, s in pushed_base_builds()],
)
def test_builder_child_of_pushed_base(case: str, mode: str, step: int) -> None:
    pytest.skip(PUSHED_BASE_REASON)
