"""The `graph` cache model: BuildKit-like keys on kaniko's cache store.

BuildKit (moby/buildkit) keys each step of its build graph by the step's
definition and the cache keys of its inputs. A `COPY --from=<stage>` is a step
whose input is the source stage's last step, so its key follows from the source
stage's key. Looking the COPY up therefore needs neither the source's files nor
a stored pointer entry. Context files enter a key as content checksums, because
the definition of a local source says nothing about its bytes.

This model keeps everything else of the planner and changes the keying of
cross-stage copies only:

* a `COPY --from=<stage>` is keyed by the stage's chain, the instruction's
  definition parts and the source stage's final key (a `COPY --from=<image>`:
  the image's manifest digest), in the precompute and the build pass alike;
* no pointer is looked up, pushed or verified;
* because that key is known before any stage is built, the precompute pass
  keys every instruction of every stage a priori, also on a cold cache, and
  elimination drops any stage whose consumers all hit.

What the planner already does is shared with `lookahead`: base layers are
downloaded and unpacked only when an instruction that executes needs the
filesystem, and a hit layer is extracted only when a later step needs it.

Where the model simplifies BuildKit:

* Keys are kaniko's composite chains (base seed, then each instruction's parts)
  rather than digests of LLB vertices, so instructions other than a cross-stage
  copy get the same keys as under `lookahead`, metadata instructions included.
* BuildKit also computes a content checksum of the copied files once a source
  stage has run, and hits on it when the source re-ran but produced the same
  files. This model has no such second key: a changed source key always misses.
* Entries are stored as kaniko stores them (one image per key, in a layout or
  registry repository), not as a BuildKit cache manifest that lists the graph,
  and every executed layer is pushed, like BuildKit's `mode=max` export.
"""

from __future__ import annotations

import logging

from cachelab.keys.composite import CompositeKey
from cachelab.keys.parts import instruction_parts
from cachelab.plan.decisions import BLOCKER_COPY_FROM_STAGE_UNKEYED, InstructionPlan
from cachelab.plan.keying import Keyer, StageEnvironment
from cachelab.plan.stages import Command

logger = logging.getLogger(__name__)

# Strategy names whose planner uses this model; every other strategy keys as kaniko does.
GRAPH_STRATEGIES = ("graph",)

# The kaniko option set the `graph` strategy starts from: caching of RUN and COPY
# layers, the precompute pass, rolling keys and skipping cached stages.
GRAPH_PROFILE = "kaniko-lookahead"


def key_cross_stage_copy(
    command: Command,
    plan: InstructionPlan,
    chain: CompositeKey,
    environment: StageEnvironment,
    *,
    keyer: Keyer,
    source_key: str | None,
    blockers: list[str],
) -> CompositeKey | None:
    """Append a cross-stage COPY's definition parts and its source's key to `chain`.

    `source_key` is the source stage's final key or the source image's manifest digest. Returns the extended chain, or
    None (and the instruction stays unkeyed) when the source has no key yet.
    """
    if source_key is None:
        blockers.append(BLOCKER_COPY_FROM_STAGE_UNKEYED)
        plan.decision = "unkeyed"
        return None
    definition = instruction_parts(
        command.instruction, environment, options=keyer.options, context=keyer.context, include_files=False,
    ).with_inferred(source_key)
    chain.add(*definition.values)
    plan.key = chain.hash()
    plan.key_source = "inferred"
    plan.parts = tuple(definition.values)
    plan.labelled_parts = definition.parts
    logger.debug("graph key %s for %r from source key %s", plan.key, command.instruction.text, source_key)
    return chain
