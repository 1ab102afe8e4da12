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
`--preserve-context`/`--cleanup` lines are not rendered; cachelab plans carry no
destinations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cachelab.plan.decisions import StagePlan
from cachelab.plan.stages import PlanStage

INDENT = "  "


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
