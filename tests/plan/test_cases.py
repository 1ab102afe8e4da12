"""The planner against what real kaniko v1.28.3 did in each case under tests/cases.

Each case is replayed build by build in one memory cache per mode. The planner's
keys and decisions (precompute and build pass) and the pointers it plans must
equal the observed ones. Then the cache receives what the build wrote: a layer
under every key the plan pushes, and the planned pointers.

The content key of a `COPY --from` hashes the files its source stage produced.
For every case with such a COPY, `BUILDER_OUTPUTS` writes those files as the
builder would save them. Where no output is known, the observed keys stand in
for the builder's own and only the rest is compared.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cachelab.dockerfile.parse import load_dockerfile
from cachelab.keys.flags import FEATURE_FLAGS, KanikoOptions, parse_go_bool, profile
from cachelab.plan.decisions import InstructionPlan, StagePlan
from cachelab.plan.memory import MemoryCache
from cachelab.plan.planner import Planner
from tests.plan.casefiles import (
    BUILDER_OUTPUTS,
    CASES_DIR,
    RecordedImageSource,
    apply_mutations,
    case_modes,
    load_case,
    prepare_context,
)

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def mode_options(run: dict[str, Any], build: dict[str, Any]) -> KanikoOptions:
    options = profile(run["profile"])
    changes: dict[str, bool] = {}
    for name, value in {**run["env"], **build["env"]}.items():
        field, default = FEATURE_FLAGS[name]
        changes[field] = parse_go_bool(value, default)
    return options.with_changes(**changes)


def by_origin(instructions: list[InstructionPlan]) -> dict[tuple[int, int], InstructionPlan]:
    """Index planned instructions by (stage written in, position among that stage's)."""
    seen: dict[int, int] = defaultdict(int)
    indexed = {}
    for instruction in instructions:
        indexed[(instruction.origin_stage, seen[instruction.origin_stage])] = instruction
        seen[instruction.origin_stage] += 1
    return indexed


def observed_instructions(build: dict[str, Any]) -> dict[tuple[int, int], dict[str, Any]]:
    return {
        (stage["index"], position): instruction
        for stage in build["stages"]
        for position, instruction in enumerate(stage["instructions"])
    }


class Replay:
    """Replays the builds of one mode and collects every difference from kaniko."""

    def __init__(
        self, case: str, run: dict[str, Any], context: Path, images: RecordedImageSource, saved: Path,
    ) -> None:
        self.case = case
        self.saved = saved
        self.run = run
        self.context = context
        self.images = images
        self.cache = MemoryCache()
        self.differences: list[str] = []
        self.compared = 0

    def differ(self, build: dict[str, Any], what: str, planned: object, observed: object) -> None:
        self.compared += 1
        if planned != observed:
            self.differences.append(f"step {build['step']}: {what}: planned {planned!r}, kaniko {observed!r}")

    def build(self, build: dict[str, Any]) -> None:
        now = START + timedelta(minutes=build["step"])
        options = mode_options(self.run, build)
        dockerfile = load_dockerfile(CASES_DIR / self.case / build["dockerfile"])
        planner = Planner(
            dockerfile, options=options, context_dir=self.context, cache=self.cache, images=self.images,
            build_args=build["build_args"], targets=build["targets"],
            dockerfile_path=CASES_DIR / self.case / build["dockerfile"], now=now,
        )
        observed = observed_instructions(build)
        precomputed = planner.precompute()
        planner.eliminate()
        self.differ(build, "eliminated stages", planner.eliminated, build["eliminated"])
        unused = sorted(stage["index"] for stage in build["stages"] if not stage["in_plan"])
        planned_unused = sorted(
            index for index in range(len(dockerfile.stages))
            if index not in planner.squashed_into and index not in planner.build_order()
            and index not in planner.eliminated
        )
        self.differ(build, "unused stages", planned_unused, unused)
        if planner.gates.precompute:
            self.compare_precompute(build, precomputed, observed)
        self.compare_build(build, planner, observed, now)

    def stage_files(self, build: dict[str, Any], source: int | str) -> tuple[str, str] | None:
        """Save what the source stage produced, as the builder would, or None if unknown."""
        produce = BUILDER_OUTPUTS.get(self.case)
        if produce is None or not isinstance(source, int):
            return None
        saved = self.saved / f"{self.run['mode']}-{build['step']}" / str(source)
        if not saved.exists():
            saved.mkdir(parents=True)
            produce(self.context, source, saved)
        return str(saved), f"/kaniko/deps/{source}"

    def compare_precompute(
        self, build: dict[str, Any], precomputed: dict[int, StagePlan], observed: dict[tuple[int, int], dict[str, Any]],
    ) -> None:
        planned = by_origin([i for plan in precomputed.values() for i in plan.instructions])
        for position, seen in observed.items():
            if position not in planned:
                continue
            instruction = planned[position]
            label = f"precompute {seen['text']!r}"
            self.differ(build, f"{label} key", instruction.key, seen.get("precompute_key"))
            self.differ(build, f"{label} decision", instruction.decision, seen.get("precompute_decision", "unkeyed"))
            if "precompute_redirect" in seen:
                self.differ(build, f"{label} redirect", instruction.redirect_hit, seen["precompute_redirect"] == "hit")

    def compare_build(
        self, build: dict[str, Any], planner: Planner, observed: dict[tuple[int, int], dict[str, Any]], now: datetime,
    ) -> None:
        stages = {stage["index"]: stage for stage in build["stages"]}
        pointers = defaultdict(list)
        for pointer in build["pointers_pushed"]:
            pointers[pointer["stage"]].append(pointer)
        for index in planner.build_order():
            plan = planner.plan_stage(index, stage_files=lambda source: self.stage_files(build, source))
            needs_files = False
            for position, instruction in by_origin(plan.instructions).items():
                seen = observed[position]
                label = f"stage {index} {seen['text']!r}"
                if instruction.key is None and instruction.kind != "MAINTAINER":
                    # Needs the built files of a source stage: the builder's job.
                    needs_files = needs_files or instruction.source_stage is not None
                    self.differ(build, f"{label} keyable without files", needs_files, True)
                    if instruction.push_layer or seen.get("push_key"):
                        self.cache.put_layer_bytes(seen["push_key"], created_by=seen["text"], created=now)
                    continue
                self.differ(build, f"{label} key", instruction.key, seen["key"])
                self.differ(build, f"{label} decision", instruction.decision, seen["decision"])
                if "redirect" in seen:
                    self.differ(build, f"{label} redirect", instruction.redirect_hit, seen["redirect"] == "hit")
                if instruction.push_layer and instruction.decision != "hit":
                    self.cache.put_layer_bytes(instruction.key, created_by=instruction.text, created=now)
            if not needs_files:
                self.differ(build, f"stage {index} unpacked", plan.should_unpack, stages[index]["unpacked"])
            observed_pointers = [(pointer["pointer"], pointer["content"]) for pointer in pointers[index]]
            planned_pointers = [
                (i.push_pointer.key, i.push_pointer.target) for i in plan.instructions if i.push_pointer is not None
            ]
            if not needs_files:
                self.differ(build, f"stage {index} pointers pushed", planned_pointers, observed_pointers)
            for key, target in observed_pointers if needs_files else planned_pointers:
                self.cache.put_pointer(key, target, created=now)
            final_key = plan.final_key if not needs_files else stages[index]["final_key"]
            if not needs_files:
                self.differ(build, f"stage {index} final key", plan.final_key, stages[index]["final_key"])
            planner.stage_done(index, final_key)


@pytest.mark.parametrize(("case", "mode"), case_modes(), ids=[f"{c}-{m}" for c, m in case_modes()])
def test_case_matches_kaniko(case: str, mode: str, tmp_path: Path) -> None:
    if (CASES_DIR / case / "context").is_dir() and os.geteuid() != 0:
        pytest.skip("kaniko hashed these context files as owned by uid 0 and gid 0; run the tests as root")
    facts = load_case(case)
    run = next(item for item in facts["modes"] if item["mode"] == mode)
    context = prepare_context(case, tmp_path / "context", facts["context"])
    images = RecordedImageSource(facts["base_images"])
    replay = Replay(case, run, context, images, tmp_path / "saved")

    for build in run["builds"]:
        unknown = apply_mutations(build, context, replay.cache, images)
        if unknown:
            # Checked (and skipped) by test_case_build_needs_pushed_image below.
            continue
        replay.build(build)

    assert replay.compared > 0
    assert replay.differences == []


def unknown_seed_builds() -> list[tuple[str, str, int]]:
    found = []
    for case, mode in case_modes():
        run = next(item for item in load_case(case)["modes"] if item["mode"] == mode)
        for build in run["builds"]:
            if any(m["op"] == "move-tag" and m["seed"] is None for m in build["mutations"]):
                found.append((case, mode, build["step"]))
    return found


@pytest.mark.parametrize(
    ("case", "mode", "step"), unknown_seed_builds(),
    ids=[f"{c}-{m}-step{s}" for c, m, s in unknown_seed_builds()],
)
def test_case_build_needs_pushed_image(case: str, mode: str, step: int) -> None:
    pytest.skip(
        "needs cachelab.build and a registry: the base of this build is the image an earlier "
        "build pushed, and its seed was not recorded in this mode"
    )
