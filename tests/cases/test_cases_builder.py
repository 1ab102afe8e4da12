"""The real builder against what kaniko v1.28.3 did in the multistage cases under tests/cases.

Each mode of a case is replayed build by build against one layout cache store:
the mutations of a step are applied to a copy of the context, then the builder
builds it. Every stage's action, unpacking and final key, and every
instruction's key and decision, must equal the observed ones. Unlike the
planner's case test, the content keys of `COPY --from` here hash files the
builder really produced and saved.

The base image is served by `RecordedBaseImages` (kaniko's busybox manifest and
config, the local busybox layer).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cachelab.build.builder import build
from cachelab.build.metadata import METADATA_KINDS
from cachelab.build.request import BuildRequest
from cachelab.oci.layout import LayoutStore
from cachelab.plan.decisions import StagePlan
from tests.fixtures.builder import RecordedBaseImages
from tests.plan.casefiles import CASES_DIR, apply_mutations, case_names, load_case, prepare_context
from tests.plan.test_cases import by_origin, mode_options, observed_instructions

CONFIG_ONLY = METADATA_KINDS - {"WORKDIR"}

# Deliberate divergences from kaniko, by (case, mode): none so far.
DIVERGENCES: dict[tuple[str, str], str] = {}


def _multistage(case: str) -> bool:
    return any(
        path.read_text().count("\nFROM ") + path.read_text().startswith("FROM ") > 1
        for path in (CASES_DIR / case).glob("Dockerfile*")
    )


BUILDER_CASES = [
    (case, mode["mode"]) for case in case_names() if _multistage(case) for mode in load_case(case)["modes"]
]


class _LayoutCacheEntries:
    """The cache store as `apply_mutations` edits it: delete an entry by key."""

    def __init__(self, path: Path) -> None:
        self.store = LayoutStore(path)

    def delete(self, key: str) -> None:
        if self.store.exists():
            self.store.untag(key)


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


@pytest.mark.parametrize(("case", "mode"), BUILDER_CASES, ids=[f"{c}-{m}" for c, m in BUILDER_CASES])
def test_builder_matches_kaniko(case: str, mode: str, tmp_path: Path, image_store: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("kaniko hashed the context and stage files as owned by uid 0 and gid 0; run as root")
    facts = load_case(case)
    run = next(item for item in facts["modes"] if item["mode"] == mode)
    context = prepare_context(case, tmp_path / "context", facts["context"])
    images = RecordedBaseImages(image_store, facts["base_images"])
    cache_path = tmp_path / "layer-cache"
    cache = _LayoutCacheEntries(cache_path)
    differences: list[str] = []
    compared: list[str] = []
    built_steps = 0

    try:
        for step in run["builds"]:
            unknown = apply_mutations(step, context, cache, images)  # type: ignore[arg-type]
            if unknown:
                # A base whose seed kaniko did not record cannot be served; the rest of the mode depends on it.
                break
            request = BuildRequest(
                dockerfile=CASES_DIR / case / step["dockerfile"], context=context,
                options=mode_options(run, step), build_args=step["build_args"],
                targets=tuple(step["targets"]), cache=str(cache_path),
            )
            result = build(request, progress=False, images=images)
            differences.extend(_compare(step, result.stages, compared))
            built_steps += 1
    finally:
        images.close()

    assert built_steps > 0
    assert any("--from=" in label for label in compared) or "--from=" not in str(run)
    if (case, mode) in DIVERGENCES:
        pytest.xfail(DIVERGENCES[(case, mode)])
    assert differences == []
