"""kaniko's dry-run plan text (`--dryrun`, `KANIKO_PRINT_PLAN`).

The text has one block per built stage, after precompute and elimination. A block
starts with the FROM line and how the base arrives: `UNPACK /kaniko/stages/<n>`
for a local base, `STREAM` or, with the shared base store, `FETCH` + `UNPACK` for
a remote one. Each command's text follows with its cache lines, then `SAVE STAGE`,
`SAVE FILES` and `CLEAN` for every stage but the last. Cache lines are printed only when the precompute
pass ran. A cross-stage COPY under inference gets `CACHE REDIRECT HIT|MISS:
<inferred key>`. Every command with a key gets `CACHE HIT|MISS: <key>`, and a
metadata command that is never probed prints MISS. `UPLOAD <repo>:<key>` follows
a miss that will push a layer.

NOTE: `PUSH` blocks (destination pushes with MOUNT/UPLOAD lines) and the
`--preserve-context`/`--cleanup` lines are not rendered, not even by `cachelab
build --dry-run --destination`.

`plan_text` adds cachelab's own decisions after kaniko's text when kaniko would
print no cache lines. Those lines start with `#`, which no kaniko plan line does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args

from cachelab.plan.decisions import Decision, InstructionPlan, StagePlan
from cachelab.plan.gates import Gates
from cachelab.plan.stages import PlanStage

if TYPE_CHECKING:
    from cachelab.plan.planner import Planner

INDENT = "  "
_KEY_WIDTH = 64  # hex digits of a SHA-256 cache key


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """What the plan text depends on besides the stages."""

    cache_lines: bool  # --cache and FF_KANIKO_CACHE_LOOKAHEAD
    redirect_lines: bool  # cache lines plus inference (INFER flag and --cache-copy-layers)
    cache_repo: str | None = None  # UPLOAD lines need a cache repository
    push_cache: bool = True  # false with --no-push-cache
    shared_base_cache: bool = False  # FF_KANIKO_SHARED_BASE_CACHE


def _base_reads(stages: Sequence[PlanStage], external: Sequence[str]) -> Counter[str]:
    # A remote base read more than once goes through the shared store (FETCH then UNPACK).
    # NOTE: kaniko counts reads per manifest digest, and it counts the push stage when
    # that has an output. Here reads are counted per reference and pushes are not modelled.
    reads: Counter[str] = Counter()
    for stage in stages:
        if stage.base_ref is None:
            continue
        reads[stage.base_ref] += 1
        if stage.save_stage:
            reads[stage.base_ref] += 1
    for reference in external:
        reads[reference] += 1
    return reads


def external_sources(stages: Sequence[PlanStage]) -> list[str]:
    """Return the image references of every `COPY --from=<image>`, sorted and unique."""
    return sorted({c.source_image for s in stages for c in s.commands if c.source_image})


def render_plan(
    stages: Sequence[PlanStage],
    decisions: Mapping[int, StagePlan],
    options: RenderOptions,
) -> str:
    """Render the plan of `stages`; `decisions` are the precompute results by stage index."""
    lines: list[str] = []
    external = external_sources(stages)
    reads = _base_reads(stages, external) if options.shared_base_cache else Counter()

    for reference in external:
        if reads[reference] > 1:
            lines.append(f"FETCH {reference}")
            lines.append(f"UNPACK {reference} /kaniko/deps/{reference}")
        else:
            lines.append(f"STREAM {reference} /kaniko/deps/{reference}")

    for position, stage in enumerate(stages):
        lines.extend(_stage_lines(stage, decisions.get(stage.index), options, reads))
        if position == len(stages) - 1:
            break
        if stage.save_stage:
            lines.append(f"SAVE STAGE /kaniko/stages/{stage.index}")
        if stage.save_files:
            lines.append(f"SAVE FILES [{' '.join(stage.save_files)}] /kaniko/deps/{stage.index}")
        lines.append("CLEAN")
        lines.append("")
    return "\n".join(lines) + "\n"


def _stage_lines(
    stage: PlanStage, decided: StagePlan | None, options: RenderOptions, reads: Counter[str],
) -> list[str]:
    header = f"FROM {stage.base_name}"
    if stage.name:
        header += f" AS {stage.name}"
    lines = [header]
    if stage.base_index is not None:
        lines.append(f"{INDENT}UNPACK /kaniko/stages/{stage.base_index}")
    elif stage.base_ref is not None and reads[stage.base_ref] > 1:
        lines.append(f"{INDENT}FETCH {stage.base_name}")
        lines.append(f"{INDENT}UNPACK {stage.base_name}")
    elif stage.base_ref is not None:
        lines.append(f"{INDENT}STREAM {stage.base_name}")

    for position, command in enumerate(stage.commands):
        if command.kind == "MAINTAINER":
            continue
        lines.append(command.instruction.text)
        planned = decided.instructions[position] if decided is not None else None
        if planned is None or not options.cache_lines:
            continue
        if planned.redirect_key is not None and options.redirect_lines:
            verdict = "HIT" if planned.redirect_hit else "MISS"
            lines.append(f"{INDENT}CACHE REDIRECT {verdict}: {planned.redirect_key}")
        if planned.key is None:
            continue
        verdict = "HIT" if planned.decision == "hit" else "MISS"
        lines.append(f"{INDENT}CACHE {verdict}: {planned.key}")
        if verdict == "MISS" and planned.push_layer and options.cache_repo and options.push_cache:
            lines.append(f"{INDENT}UPLOAD {options.cache_repo}:{planned.key}")
    return lines


def table_decision(stage: StagePlan, instruction: InstructionPlan) -> Decision:
    """Return the decision an instruction row shows: its own, or `skipped` when its stage is not built."""
    return instruction.decision if stage.action == "built" else "skipped"


def plan_text(planner: Planner) -> str:
    """Render kaniko's plan, then cachelab's decisions when kaniko's text has no cache lines.

    kaniko prints CACHE lines only when the precompute pass runs (`--cache` and
    FF_KANIKO_CACHE_LOOKAHEAD). For other options the decisions of a dry run
    follow as `#` lines (see `render_decisions`), so the text shows the same
    decisions as the instruction table. Call it on a fresh Planner, because the
    dry run records stage keys as a build does.
    """
    text = planner.render_plan()
    if planner.gates.precompute:
        return text
    return text + render_decisions(planner.dry_run(), planner.gates)


def render_decisions(plans: Sequence[StagePlan], gates: Gates) -> str:
    """Render the decisions of `plans` as `#` lines that follow a plan without cache lines.

    Each stage gets a line with its action, and each of its instructions a line
    with the decision, the full key (`-` when unkeyed) and the text, in the
    decision words of `cachelab plan --format table`. A redirect key follows
    on its own line.
    """
    if not gates.cache:
        return (
            "\n# Not kaniko output: these options use no cache (--cache is off), so no "
            "instruction is looked up.\n"
        )
    lines = [
        "",
        "# Not kaniko output: kaniko prints CACHE lines only with --cache and",
        "# FF_KANIKO_CACHE_LOOKAHEAD, which these options leave off.",
        "# cachelab's decisions for this build (`cachelab plan --format table` lists",
        "# the same decisions as columns):",
    ]
    width = max(len(decision) for decision in get_args(Decision))
    for stage in plans:
        lines.append(f"# {_stage_heading(stage)}")
        for instruction in stage.instructions:
            decision = table_decision(stage, instruction)
            key = (instruction.key or "-").ljust(_KEY_WIDTH)
            lines.append(f"#   {decision.ljust(width)}  {key}  {instruction.text}")
            if instruction.redirect_key is not None:
                verdict = "hit" if instruction.redirect_hit else "miss"
                lines.append(f"#   {'':{width}}  redirect {verdict}: {instruction.redirect_key}")
    return "\n".join(lines) + "\n"


def _stage_heading(stage: StagePlan) -> str:
    heading = f"stage {stage.index}"
    if stage.name:
        heading += f" {stage.name}"
    if stage.action == "squashed" and stage.squashed_into is not None:
        return f"{heading}: squashed into stage {stage.squashed_into}"
    return f"{heading}: {stage.action}"
