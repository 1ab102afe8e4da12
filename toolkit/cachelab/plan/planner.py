"""The planner: every cache decision kaniko makes for one build, before and during it.

Use it in this order:

1. `precompute()` runs kaniko's lookahead pass when `--cache` and
   FF_KANIKO_CACHE_LOOKAHEAD are on (otherwise it returns no decisions): every
   stage's keys from the Dockerfile, the context and the base manifests and
   configs only, with pointer lookups for `COPY --from`.
2. `eliminate()` drops stages whose consumers are all served from the cache and
   re-squashes FROM chains (only under its gate; otherwise the stages stay).
3. `render_plan()` prints kaniko's dry-run plan of the result.
4. For each index of `build_order()`: `plan_stage(index, stage_files)` returns the
   StagePlan the builder executes, then `stage_done(index, final_key)` records
   the stage's final key for the stages that derive or copy from it.

`plan()` runs 1 and 2 and returns a StagePlan for every stage as written, the
built ones with their a-priori decisions. `static_keys()` returns the keys of a
cold build without touching the cache.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from cachelab.dockerfile.model import Dockerfile
from cachelab.keys.composite import CompositeKey, Mode
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.parts import MissingSourcePolicy
from cachelab.plan.decisions import (
    BLOCKER_BASE_STAGE_UNKEYED,
    BLOCKER_COPY_FROM_CONTENT,
    BLOCKER_INFERENCE_DISABLED,
    BLOCKER_NO_CACHE,
    InstructionPlan,
    StageAction,
    StagePlan,
)
from cachelab.plan.elimination import EliminationResult, eliminate
from cachelab.plan.errors import PlanOrderError
from cachelab.plan.gates import Gates
from cachelab.plan.graph import GRAPH_STRATEGIES
from cachelab.plan.interfaces import BaseImageSource, LayerCache
from cachelab.plan.keying import StageEnvironment
from cachelab.plan.optimize import Pass, StageFiles, WalkContext, WalkResult, walk_stage
from cachelab.plan.probe import MemoizedCache
from cachelab.plan.render import RenderOptions, external_sources, render_plan
from cachelab.plan.risks import stage_risks
from cachelab.plan.setup import PlannerSetup
from cachelab.plan.stages import PlanStage, StageList
from cachelab.plan.unpack import decide_unpack

logger = logging.getLogger(__name__)


class Planner:
    """kaniko's cache decisions for one build of `dockerfile`.

    `cache` is the cache repository (None, or ignored, when `options.cache` is
    off); `images` resolves remote bases and `COPY --from=<image>` references.
    `now` is the time expiry is judged against (default: the current time).
    `cache_repo` only names the repository in UPLOAD lines of the plan text.
    `strategy` names the cache model: a strategy of `GRAPH_STRATEGIES` keys
    `COPY --from` by its source's key (see `cachelab.plan.graph`); any other
    keeps kaniko's keys. `missing_source` is the key engine's policy for file inputs that do not exist
    (`raise`, as kaniko does, or `placeholder` for studies of Dockerfiles whose
    context is absent). `setup` shares stage selections and memoised key parts
    with other Planners of the same Dockerfile (see `PlannerSetup`). Without it,
    this Planner selects its own stages and memoises nothing.
    """

    def __init__(
        self,
        dockerfile: Dockerfile,
        *,
        options: KanikoOptions,
        context_dir: str | os.PathLike[str],
        cache: LayerCache | None,
        images: BaseImageSource,
        build_args: Mapping[str, str] | None = None,
        targets: Sequence[str] = (),
        platform: str | None = None,
        dockerfile_path: str | os.PathLike[str] | None = None,
        now: datetime | None = None,
        cache_repo: str | None = None,
        missing_source: MissingSourcePolicy = "raise",
        strategy: str | None = None,
        setup: PlannerSetup | None = None,
    ) -> None:
        setup = setup or PlannerSetup(dockerfile, memoize=False)
        self.dockerfile = dockerfile
        self.options = options
        self.gates = Gates.from_options(options)
        if strategy in GRAPH_STRATEGIES:
            self.gates = dataclasses.replace(self.gates, graph=True)
        self.context_dir = setup.context_dir(context_dir)
        self.build_args = dict(build_args or {})
        self.cache_repo = cache_repo
        self.now = now or datetime.now(UTC)

        self.bases = setup.resolver(images, options=options, platform=platform)
        self.memo = (
            MemoizedCache(cache, ttl=self.gates.ttl, now=self.now)
            if cache is not None and self.gates.cache else None
        )
        self.selection: StageList = setup.selection(
            dockerfile, targets=targets, build_args=self.build_args, bases=self.bases,
            arg_precedence=options.buildkit_arg_env_precedence,
        )
        self.stages: list[PlanStage] = list(self.selection.stages)
        final = next((stage for stage in self.stages if stage.is_final), None)
        self.keyer = setup.keyer(
            options, dockerfile=dockerfile, context_dir=self.context_dir,
            dockerfile_path=dockerfile_path or dockerfile.path, build_args=self.build_args,
            platform=platform, last_stage=final.name if final is not None else None,
            missing_source=missing_source,
        )
        self.eliminated: list[int] = []
        self.squashed_into: dict[int, int] = dict(self.selection.squashed_into)

        self.precomputed: dict[int, StagePlan] = {}
        self._precompute_keys: dict[int, str] = {}
        self._precompute_env: dict[int, StageEnvironment] = {}
        self._static: dict[int, StagePlan] | None = None
        self._static_env: dict[int, StageEnvironment] = {}
        self._known_a_priori: dict[int, bool] = {}
        self._final_keys: dict[int, str] = {}
        self._build_env: dict[int, StageEnvironment] = {}
        self._planned: dict[int, StagePlan] = {}
        self._image_digests: dict[str, str] | None = None
        self._did_precompute = False
        self._did_eliminate = False

    # Passes before building

    def precompute(self) -> dict[int, StagePlan]:
        """Run the lookahead precompute pass if gated; return its StagePlans by stage index."""
        if self._did_precompute:
            return self.precomputed
        self._did_precompute = True
        if not self.gates.precompute or self.memo is None:
            return self.precomputed
        results = self._walk_all("precompute")
        for stage in self.stages:
            plan, result = results[stage.index]
            self.precomputed[stage.index] = plan
            if result.final_key is not None:
                self._precompute_keys[stage.index] = result.final_key
            self._precompute_env[stage.index] = result.environment
        return self.precomputed

    def eliminate(self) -> EliminationResult:
        """Drop stages whose consumers all hit in precompute, then re-squash (only when gated)."""
        self.precompute()
        if self._did_eliminate or not self.gates.elimination:
            self._did_eliminate = True
            return EliminationResult(stages=self.stages, eliminated=self.eliminated)
        self._did_eliminate = True
        result = eliminate(StageList(stages=self.stages, merge=self.selection.merge), self.precomputed)
        self.stages = result.stages
        self.eliminated = result.eliminated
        self.squashed_into.update(result.squashed_into)
        for stage in self.stages:
            if stage.absorbed and any(index in result.squashed_into for index in stage.absorbed):
                self.precomputed[stage.index] = self._merged_precompute(stage)
        return result

    def render_plan(self) -> str:
        """Render kaniko's dry-run plan after precompute and elimination."""
        self.eliminate()
        options = RenderOptions(
            cache_lines=self.gates.precompute,
            redirect_lines=self.gates.precompute and self.gates.infer and self.gates.cache_copy_layers,
            cache_repo=self.cache_repo,
            push_cache=self.gates.push,
            shared_base_cache=self.gates.shared_base_cache,
        )
        return render_plan(self.stages, self.precomputed, options)

    def static_keys(self) -> dict[int, StagePlan]:
        """Return the keys of a cold build by stage index, with no cache lookups.

        A key is None where it needs the files of a stage that is not built yet.
        """
        if self._static is None:
            self._static = {}
            results = self._walk_all("static")
            self._static = {index: plan for index, (plan, _) in results.items()}
        return self._static

    def plan(self) -> list[StagePlan]:
        """Precompute and eliminate, then return a StagePlan for every stage as written."""
        self.eliminate()
        static = self.static_keys()
        plans: list[StagePlan] = []
        built = {stage.index: stage for stage in self.stages}
        for index in range(len(self.dockerfile.stages)):
            if index in built:
                plans.append(self._overview(built[index], static))
            else:
                plans.append(self._dropped(index, static))
        return plans

    def dropped_plan(self, index: int) -> StagePlan:
        """Return the StagePlan of a stage this build skips (eliminated, squashed or unused).

        Unlike `plan()` it computes no keys: an eliminated stage keeps its
        precomputed decisions, so skipping it costs no hashing.
        """
        self.eliminate()
        return self._dropped(index, {})

    def dry_run(self) -> list[StagePlan]:
        """Plan every stage in build order as if building, without a builder.

        Returns a StagePlan for every stage as written. Files of stages built in
        this run are not available, so a `COPY --from` without a pointer leaves the
        rest of its stage unkeyed, and so does every stage derived from it. Call it
        on a fresh Planner: it records final keys as `stage_done` does.
        """
        self.eliminate()
        built: dict[int, StagePlan] = {}
        for index in self.build_order():
            stage = self._stage(index)
            if stage.base_index is not None and stage.base_index not in self._final_keys:
                built[index] = self._unkeyed(stage)
                continue
            plan = self.plan_stage(index)
            built[index] = plan
            if plan.final_key is not None:
                self.stage_done(index, plan.final_key)
        plans = []
        for index in range(len(self.dockerfile.stages)):
            plans.append(built[index] if index in built else self._dropped(index, {}))
        return plans

    # The build pass

    def external_images(self) -> list[str]:
        """Return the images `COPY --from=<image>` reads, which kaniko fetches before building.

        kaniko downloads each into `/kaniko/deps/<reference>` even when every COPY
        from it hits, so the builder does too.
        """
        self.eliminate()
        return external_sources(self.stages)

    def build_order(self) -> list[int]:
        """Return the indexes of the stages to build, in order."""
        self.eliminate()
        return [stage.index for stage in self.stages]

    def plan_stage(self, index: int, stage_files: StageFiles | None = None) -> StagePlan:
        """Plan the build of stage `index`; the stages it derives from must be done."""
        self.eliminate()
        stage = self._stage(index)
        if stage.base_index is not None and stage.base_index not in self._final_keys:
            raise PlanOrderError(
                f"stage {index} derives from stage {stage.base_index}, which is not done yet",
            )
        chain = self._seed(stage, self._final_keys) if self.gates.cache else None
        environment = self._environment(stage, self._build_env)
        context = WalkContext(
            gates=self.gates, keyer=self.keyer, pass_name="build",
            final_keys={**self._precompute_keys, **self._final_keys},
            image_digests=self._external_digests(), memo=self.memo, stage_files=stage_files,
        )
        result = walk_stage(stage.commands, chain, environment, context)
        plan = self._stage_plan(stage, result, "build")
        self._build_env[index] = result.environment
        self._planned[index] = plan
        return plan

    def stage_done(self, index: int, final_key: str | None = None) -> None:
        """Record that stage `index` is built; `final_key` overrides the planned one.

        The builder passes the final key it computed when the plan could not (the
        stage copies files of a stage built in this run).
        """
        planned = self._planned.get(index)
        key = final_key or (planned.final_key if planned is not None else None)
        if key is None and not self.gates.cache:
            # Without --cache nothing is keyed; a FROM child only needs its base done,
            # and the empty key is never read because no chain is seeded or inferred.
            key = ""
        if key is None:
            raise PlanOrderError(f"stage {index} is done but has no final key")
        self._final_keys[index] = key
        logger.debug("stage %d has final key %s", index, key)

    # Shared helpers

    def _walk_all(self, pass_name: Pass) -> dict[int, tuple[StagePlan, WalkResult]]:
        keys: dict[int, str] = {}
        environments: dict[int, StageEnvironment] = {}
        results: dict[int, tuple[StagePlan, WalkResult]] = {}
        memo = self.memo if pass_name == "precompute" else None
        for stage in self.stages:
            chain = None
            blockers: list[str] = []
            if not self.gates.cache and pass_name != "static":
                blockers.append(BLOCKER_NO_CACHE)
            elif stage.base_index is not None and stage.base_index not in keys:
                blockers.append(BLOCKER_BASE_STAGE_UNKEYED)
            else:
                chain = self._seed(stage, keys)
            environment = self._environment(stage, environments)
            context = WalkContext(
                gates=self.gates, keyer=self.keyer, pass_name=pass_name, final_keys=keys,
                image_digests=self._external_digests(), memo=memo,
            )
            result = walk_stage(stage.commands, chain, environment, context)
            result.blockers[:0] = blockers
            if result.final_key is not None:
                keys[stage.index] = result.final_key
            environments[stage.index] = result.environment
            results[stage.index] = (self._stage_plan(stage, result, pass_name), result)
        return results

    def _unkeyed_environments(self) -> dict[int, StageEnvironment]:
        if not self._static_env:
            context = WalkContext(
                gates=self.gates, keyer=self.keyer, pass_name="static", final_keys={}, image_digests={},
            )
            for stage in self.stages:
                environment = self._environment(stage, self._static_env)
                self._static_env[stage.index] = walk_stage(stage.commands, None, environment, context).environment
        return self._static_env

    def _unkeyed(self, stage: PlanStage) -> StagePlan:
        environment = self._environment(stage, self._build_env)
        context = WalkContext(
            gates=self.gates, keyer=self.keyer, pass_name="build", final_keys=self._final_keys,
            image_digests=self._external_digests(),
        )
        result = walk_stage(stage.commands, None, environment, context)
        result.blockers.insert(0, BLOCKER_BASE_STAGE_UNKEYED)
        self._build_env[stage.index] = result.environment
        return self._stage_plan(stage, result, "build")

    def _seed(self, stage: PlanStage, final_keys: Mapping[int, str]) -> CompositeKey:
        mode: Mode = "rolling" if self.gates.rolling else "legacy"
        if stage.base_index is not None:
            return CompositeKey.resume(final_keys[stage.base_index], mode=mode)
        return CompositeKey.new(self.bases.seed(stage), mode=mode)

    def _environment(
        self, stage: PlanStage, environments: Mapping[int, StageEnvironment],
    ) -> StageEnvironment:
        if stage.base_index is not None:
            inherited = environments.get(stage.base_index) or self._precompute_env.get(stage.base_index)
            if inherited is None:
                # The builder reported the base with `stage_done` without planning it
                # here. ENV and ARG are fixed by the Dockerfile, so a walk that keys
                # nothing gives the same environment.
                inherited = self._unkeyed_environments().get(stage.base_index)
            if inherited is not None:
                return inherited.copy()
        return self.keyer.stage_environment(self.bases.config_env(stage))

    def _external_digests(self) -> dict[str, str]:
        # Only inferred keys read an external image's digest; content keys hash its files.
        if not (self.gates.inference or self.gates.graph):
            return {}
        if self._image_digests is None:
            self._image_digests = {
                reference: self.bases.manifest_digest(reference)
                for reference in external_sources(self.stages)
            }
        return self._image_digests

    def _stage(self, index: int) -> PlanStage:
        for stage in self.stages:
            if stage.index == index:
                return stage
        raise PlanOrderError(f"stage {index} is not built in this plan (eliminated, squashed or unused)")

    def _stage_plan(self, stage: PlanStage, result: WalkResult, pass_name: Pass) -> StagePlan:
        plan = StagePlan(
            index=stage.index, name=stage.name, base_kind=stage.base_kind,
            base_ref=stage.base_ref if stage.base_index is None else stage.base_name,
            base_index=stage.base_index, absorbed=stage.absorbed,
            final_key=result.final_key, save_files=stage.save_files, save_stage=stage.save_stage,
            is_final=stage.is_final, is_push=stage.is_push, instructions=result.instructions,
            key_blockers=list(dict.fromkeys(result.blockers)), key_risks=stage_risks(stage),
        )
        plan.key_a_priori = pass_name != "build" and result.final_key is not None
        for instruction in plan.instructions:
            instruction.a_priori = pass_name != "build" and instruction.key is not None
        if pass_name == "build" and stage.index in self.precomputed:
            _copy_a_priori(plan, self.precomputed[stage.index])
        elif pass_name == "build":
            self._structural_a_priori(stage, plan)
        if not self.gates.cache:
            plan.key_a_priori = False
            plan.key_blockers = [BLOCKER_NO_CACHE]
        plan.should_unpack, plan.unpack_reason = decide_unpack(stage, plan)
        return plan

    def _structural_a_priori(self, stage: PlanStage, plan: StagePlan) -> None:
        # Without a precompute pass, decide what was knowable before building from the
        # Dockerfile alone, so the build pass hashes nothing twice: keys are known up
        # to the first COPY --from, on a base stage whose key was known.
        known = True
        blockers: list[str] = []
        if stage.base_index is not None and not self._known_a_priori.get(stage.base_index, False):
            known = False
            blockers.append(BLOCKER_BASE_STAGE_UNKEYED)
        for instruction in plan.instructions:
            cross_stage = instruction.source_stage is not None or instruction.source_image is not None
            if known and cross_stage:
                known = False
                blockers.append(BLOCKER_COPY_FROM_CONTENT if self.gates.inference else BLOCKER_INFERENCE_DISABLED)
            instruction.a_priori = known and instruction.key is not None
        plan.key_a_priori = known and plan.final_key is not None
        plan.key_blockers = blockers
        self._known_a_priori[stage.index] = plan.key_a_priori

    def _merged_precompute(self, stage: PlanStage) -> StagePlan:
        # A re-squashed stage keeps the precomputed decisions of its parts, in command order.
        instructions: list[InstructionPlan] = []
        for index in (*stage.absorbed, stage.index):
            part = self.precomputed.get(index)
            if part is None:
                continue
            instructions.extend(i for i in part.instructions if i.kind != "ONBUILD" or index == stage.index)
        merged = self.precomputed[stage.index]
        for position, instruction in enumerate(instructions):
            instruction.index = position
        merged.instructions = instructions
        merged.base_kind, merged.base_index = stage.base_kind, stage.base_index
        merged.base_ref = stage.base_ref
        merged.absorbed = stage.absorbed
        merged.should_unpack, merged.unpack_reason = decide_unpack(stage, merged)
        return merged

    def _overview(self, stage: PlanStage, static: Mapping[int, StagePlan]) -> StagePlan:
        plan = self.precomputed.get(stage.index) or static[stage.index]
        plan.action = "built"
        return plan

    def _dropped(self, index: int, static: Mapping[int, StagePlan]) -> StagePlan:
        written = self.dockerfile.stages[index]
        if index in self.eliminated:
            plan = self.precomputed.get(index) or static.get(index)
            if plan is not None:
                plan.action = "eliminated"
                plan.should_unpack, plan.unpack_reason = False, None
                return plan
        action: StageAction = "squashed" if index in self.squashed_into else "unused"
        kind, reference, base_index = self.selection.written_bases[index]
        return StagePlan(
            index=index, name=written.name, base_kind=kind, base_ref=reference or written.base,
            base_index=base_index, action=action, squashed_into=self.squashed_into.get(index),
        )


def _copy_a_priori(plan: StagePlan, a_priori: StagePlan | None) -> None:
    if a_priori is None:
        return
    plan.key_a_priori = a_priori.final_key is not None and a_priori.final_key == plan.final_key
    plan.key_blockers = list(a_priori.key_blockers)
    by_position = {instruction.index: instruction for instruction in a_priori.instructions}
    for instruction in plan.instructions:
        known = by_position.get(instruction.index)
        instruction.a_priori = known is not None and known.key is not None and known.key == instruction.key
