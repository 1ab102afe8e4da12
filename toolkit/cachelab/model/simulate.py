"""Simulated builds: the real Planner against a simulated cache, with modelled costs.

The simulator executes the planner's decisions as the builder would, but every
action only costs modelled time and bytes (`CostModel`): nothing is downloaded,
run or hashed. An executed instruction writes an empty layer entry (and its
pointer) into the `ModelCache`, so a later simulated build of the same file
probes what a real previous build would have left.

The Dockerfile's context is absent, so the planner runs with the `placeholder`
missing-source policy, and every `COPY --from` reads an empty directory: keys
of files stand for unchanged content, which fits warm unchanged rebuilds only.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime

from cachelab.dockerfile.model import Dockerfile
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.parts import KANIKO_DEPS_DIR
from cachelab.model.cache import ModelCache
from cachelab.model.catalog import BaseImageCatalog
from cachelab.model.costs import CostModel
from cachelab.plan.decisions import InstructionPlan, StagePlan
from cachelab.plan.interfaces import BaseImageSource
from cachelab.plan.planner import Planner
from cachelab.plan.setup import PlannerSetup

logger = logging.getLogger(__name__)

# Instruction kinds that add a filesystem layer when executed.
LAYER_KINDS = ("RUN", "COPY", "ADD", "WORKDIR")


@dataclass(slots=True)
class PhaseCost:
    """Modelled time and bytes of one phase (a span phase name)."""

    phase: str
    seconds: float
    bytes: int | None = None
    requests: int | None = None


@dataclass(slots=True)
class InstructionCost:
    index: int
    phases: list[PhaseCost] = field(default_factory=list)


@dataclass(slots=True)
class StageCost:
    """Phases of one built stage: base phases first, instructions, then saves."""

    index: int
    before: list[PhaseCost] = field(default_factory=list)
    instructions: list[InstructionCost] = field(default_factory=list)
    after: list[PhaseCost] = field(default_factory=list)

    def phases(self) -> list[PhaseCost]:
        every = list(self.before)
        for instruction in self.instructions:
            every.extend(instruction.phases)
        every.extend(self.after)
        return every

    @property
    def seconds(self) -> float:
        return sum(phase.seconds for phase in self.phases())

    def bytes_of(self, phase_name: str) -> int:
        return sum(phase.bytes or 0 for phase in self.phases() if phase.phase == phase_name)


@dataclass(slots=True)
class SimulatedBuild:
    """One simulated build: every stage as written with its decisions, and modelled costs."""

    strategy: str
    profile: str
    plans: list[StagePlan]
    costs: dict[int, StageCost]
    precompute: list[PhaseCost] = field(default_factory=list)
    # False for a build simulated only to fill the cache: it has no costs to read.
    costed: bool = True

    @property
    def wall_s(self) -> float:
        self._require_costs()
        return sum(phase.seconds for phase in self.precompute) + sum(
            cost.seconds for cost in self.costs.values()
        )

    def bytes_of(self, phase_name: str) -> int:
        self._require_costs()
        return sum(cost.bytes_of(phase_name) for cost in self.costs.values())

    def _require_costs(self) -> None:
        if not self.costed:
            raise ValueError(
                f"costs of the {self.profile} build are missing: it was simulated without costs. "
                "Simulate it with costs=True to read them",
            )

    @property
    def bytes_downloaded(self) -> int:
        return self.bytes_of("download")

    @property
    def bytes_unpacked(self) -> int:
        return self.bytes_of("unpack")

    @property
    def bytes_pushed(self) -> int:
        return self.bytes_of("push-layer")

    def count(self, action: str) -> int:
        return sum(1 for plan in self.plans if plan.action == action)

    @property
    def cache_hits(self) -> int:
        return sum(plan.cache_hits for plan in self.plans if plan.built)

    @property
    def cache_misses(self) -> int:
        return sum(plan.cache_misses for plan in self.plans if plan.built)


@dataclass(frozen=True, slots=True)
class SimulationInputs:
    """Inputs shared by every simulated build of one Dockerfile.

    `setup` shares stage selections and key parts between the builds' planners
    (one is created when none is given). Sharing is safe because the context
    directory stays empty.
    """

    dockerfile: Dockerfile
    images: BaseImageSource
    context_dir: str  # an existing empty directory: the absent context and saved stage files
    costs: CostModel
    catalog: BaseImageCatalog
    now: datetime
    setup: PlannerSetup | None = None
    # The target platform (None: this machine's). A study names one, so its keys
    # do not depend on the machine it runs on.
    platform: str | None = None

    def __post_init__(self) -> None:
        if self.setup is None:
            object.__setattr__(self, "setup", PlannerSetup(self.dockerfile))


def _planner(inputs: SimulationInputs, options: KanikoOptions, cache: ModelCache) -> Planner:
    return Planner(
        inputs.dockerfile, options=options, context_dir=inputs.context_dir,
        cache=cache if options.cache else None, images=inputs.images, now=inputs.now,
        dockerfile_path=os.path.join(inputs.context_dir, "Dockerfile"), missing_source="placeholder",
        setup=inputs.setup, platform=inputs.platform,
    )


def static_stage_plans(inputs: SimulationInputs, options: KanikoOptions) -> list[StagePlan]:
    """Return every stage's plan as written, without simulating a build (`Planner.plan()`).

    Without lookahead the planner takes a stage's action, a-priori key, blockers
    and risks from the Dockerfile alone, so they equal those of any rebuild. Raises
    ValueError for options with lookahead, whose decisions depend on the cache.
    """
    if options.cache_lookahead:
        raise ValueError("a lookahead plan depends on the cache; simulate the builds with warm_rebuild")
    return _planner(inputs, options, ModelCache()).plan()


def simulate_build(
    inputs: SimulationInputs, *, strategy: str, profile: str, options: KanikoOptions, cache: ModelCache,
    costs: bool = True,
) -> SimulatedBuild:
    """Plan and simulate one build of `inputs.dockerfile`, writing its outputs into `cache`.

    With `costs=False` the build only fills `cache`: its decisions are complete,
    but it models no time or bytes (`SimulatedBuild.costed` is False).
    """
    planner = _planner(inputs, options, cache)
    build = SimulatedBuild(strategy=strategy, profile=profile, plans=[], costs={}, costed=costs)
    planner.eliminate()
    if costs:
        build.precompute = _precompute_costs(planner, inputs.costs)
    requests_seen = planner.memo.requests if planner.memo is not None else 0

    def stage_files(source: int | str) -> tuple[str, str]:
        return inputs.context_dir, f"{KANIKO_DEPS_DIR}/{source}"

    filesystems: dict[int, int] = {}
    built: dict[int, StagePlan] = {}
    for index in planner.build_order():
        plan = planner.plan_stage(index, stage_files)
        built[index] = plan
        if costs:
            requests = planner.memo.requests - requests_seen if planner.memo is not None else 0
            requests_seen += requests
            build.costs[index] = _stage_cost(plan, inputs, cache, filesystems, probes=requests)
        _write_outputs(plan, inputs, cache)
        planner.stage_done(index, plan.final_key or _unkeyed_stage_key(index))

    for index in range(len(inputs.dockerfile.stages)):
        build.plans.append(built[index] if index in built else planner.dropped_plan(index))
    return build


def _unkeyed_stage_key(index: int) -> str:
    # A built stage always ends with a key here (its COPY --from sources read the
    # empty directory), except without --cache, where the planner ignores it.
    return hashlib.sha256(f"cachelab-unkeyed-stage:{index}".encode()).hexdigest()


def _precompute_costs(planner: Planner, costs: CostModel) -> list[PhaseCost]:
    """Return the lookahead pass's lookups and context hashing (none without lookahead)."""
    if not planner.precomputed:
        return []
    requests = planner.memo.requests if planner.memo is not None else 0
    hashed = sum(
        hashed_bytes(instruction, costs)
        for plan in planner.precomputed.values() for instruction in plan.instructions
        if instruction.source_stage is None and instruction.source_image is None
    )
    phases = [PhaseCost("probe-cache", requests * costs.request_s, requests=requests)]
    if hashed:
        phases.append(PhaseCost("hash-context", hashed / costs.hash_bytes_per_s, bytes=hashed))
    return phases


def hashed_bytes(instruction: InstructionPlan, costs: CostModel) -> int:
    """Return the bytes keying `instruction` reads: its COPY or ADD sources, or a RUN's bind mounts.

    A RUN keyed from content binds context files (FF_KANIKO_RUN_MOUNT_BIND), which
    are modelled as one context COPY's files. The builder hashes them in every pass
    that keys the instruction, so the precompute pass and the build pass both pay.
    """
    if instruction.key_source != "content":
        return 0
    if instruction.kind == "RUN":
        return costs.copy_context_bytes
    cross_stage = instruction.source_stage is not None or instruction.source_image is not None
    return costs.output_bytes(instruction.kind, cross_stage=cross_stage)


def _stage_cost(
    plan: StagePlan, inputs: SimulationInputs, cache: ModelCache, filesystems: dict[int, int], *, probes: int,
) -> StageCost:
    costs = inputs.costs
    cost = StageCost(index=plan.index)
    filesystem = 0
    if plan.base_kind == "image" and plan.base_ref is not None:
        cost.before.append(PhaseCost("resolve-base", 2 * costs.request_s, requests=2))
        base_bytes = inputs.catalog.size(plan.base_ref).compressed_bytes
        filesystem = int(base_bytes * costs.compression_ratio)
        if plan.should_unpack:
            cost.before.append(PhaseCost("download", base_bytes / costs.download_bytes_per_s, bytes=base_bytes))
            cost.before.append(PhaseCost("unpack", filesystem / costs.unpack_bytes_per_s, bytes=filesystem))
    elif plan.base_kind == "stage" and plan.base_index is not None:
        filesystem = filesystems.get(plan.base_index, 0)
        if plan.should_unpack:
            cost.before.append(PhaseCost("unpack", filesystem / costs.unpack_bytes_per_s, bytes=filesystem))
    if probes:
        cost.before.append(PhaseCost("probe-cache", probes * costs.request_s, requests=probes))

    for instruction in plan.instructions:
        phases, layer_bytes = _instruction_phases(instruction, costs, cache)
        cost.instructions.append(InstructionCost(instruction.index, phases))
        filesystem += layer_bytes

    if plan.save_files:
        saved = costs.copy_from_bytes * len(plan.save_files)
        cost.after.append(PhaseCost("save-files", saved / costs.snapshot_bytes_per_s, bytes=saved))
    if plan.save_stage:
        cost.after.append(PhaseCost("save-stage", filesystem / costs.snapshot_bytes_per_s, bytes=filesystem))
    filesystems[plan.index] = filesystem
    return cost


def _instruction_phases(
    instruction: InstructionPlan, costs: CostModel, cache: ModelCache,
) -> tuple[list[PhaseCost], int]:
    """Return the phases of one instruction and the uncompressed bytes it adds to the root."""
    cross_stage = instruction.source_stage is not None or instruction.source_image is not None
    phases: list[PhaseCost] = []
    hashed = hashed_bytes(instruction, costs)
    if hashed:
        phases.append(PhaseCost("hash-context", hashed / costs.hash_bytes_per_s, bytes=hashed))

    if instruction.hit and instruction.key is not None:
        compressed = cache.layer_size(instruction.key)
        unpacked = int(compressed * costs.compression_ratio)
        phases.append(PhaseCost("download", compressed / costs.download_bytes_per_s, bytes=compressed))
        phases.append(PhaseCost("unpack", unpacked / costs.unpack_bytes_per_s, bytes=unpacked))
        return phases, unpacked
    if instruction.kind not in LAYER_KINDS:
        return phases, 0

    produced = costs.output_bytes(instruction.kind, cross_stage=cross_stage)
    if instruction.kind == "RUN":
        # NA bytes, as in the builder, which does not measure what a command writes.
        phases.append(PhaseCost("execute", costs.run_s))
    else:
        # COPY and ADD write `produced` bytes, and WORKDIR writes 0 like a metadata instruction.
        phases.append(PhaseCost("execute", produced / costs.unpack_bytes_per_s, bytes=produced))
    phases.append(PhaseCost("snapshot", produced / costs.snapshot_bytes_per_s, bytes=produced))
    if instruction.push_layer:
        pushed = costs.compressed(produced)
        phases.append(PhaseCost(
            "push-layer", pushed / costs.upload_bytes_per_s + costs.request_s, bytes=pushed, requests=1,
        ))
    if instruction.push_pointer is not None:
        phases.append(PhaseCost("push-pointer", costs.request_s, requests=1))
    return phases, produced


def _write_outputs(plan: StagePlan, inputs: SimulationInputs, cache: ModelCache) -> None:
    """Store the layers and pointers the builder would push for `plan`'s executed instructions."""
    for instruction in plan.instructions:
        if instruction.hit:
            continue
        if instruction.push_layer and instruction.key is not None:
            cross_stage = instruction.source_stage is not None or instruction.source_image is not None
            produced = inputs.costs.output_bytes(instruction.kind, cross_stage=cross_stage)
            cache.put_modelled_layer(
                instruction.key, inputs.costs.compressed(produced), created_by=instruction.text,
                created=inputs.now,
            )
        if instruction.push_pointer is not None:
            pointer = instruction.push_pointer
            cache.put_pointer(pointer.key, pointer.target, created=inputs.now)
