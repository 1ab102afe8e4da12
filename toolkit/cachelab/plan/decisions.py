"""Decisions the planner hands the builder: a StagePlan per stage, an InstructionPlan per instruction.

The builder executes these decisions and decides nothing itself. Every field it
acts on is here: whether to fetch and unpack the base, which instructions to take
from the cache, which to execute, which layers and pointers to push, and which
files to save for a later `COPY --from`.

Vocabulary (shared with the recorded tables):

* decision: `hit` (cached layer used), `miss` (probed, absent or expired),
  `not-probed`, `unkeyed` (no key computed), `skipped` (its stage is not built).
  A `not-probed` instruction is keyed but never looked up. It is a metadata
  instruction, a layer kind the profile does not cache, or a probe skipped after
  an earlier miss.
* key_source: `content` (files were hashed), `inferred` (the key came through a
  pointer from a source stage key or an image digest), `text` (instruction text
  and the chain only).
* stage action: `built`, `eliminated` (lookahead found every consumer cached),
  `squashed` (merged into its only child), `unused` (not needed for the targets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cachelab.plan.interfaces import CacheEntry

Decision = Literal["hit", "miss", "not-probed", "unkeyed", "skipped"]
KeySource = Literal["content", "inferred", "text"]
StageAction = Literal["built", "eliminated", "squashed", "unused"]
BaseKind = Literal["image", "stage", "scratch"]

# Reasons a stage's final key was not known before building (the `key_blockers` column).
BLOCKER_BASE_STAGE_UNKEYED = "base-stage-unkeyed"
BLOCKER_COPY_FROM_CONTENT = "copy-from-content"
BLOCKER_COPY_FROM_STAGE_UNKEYED = "copy-from-stage-unkeyed"
BLOCKER_INFERENCE_DISABLED = "inference-disabled"
BLOCKER_NO_CACHE = "no-cache"

# Inputs that make a key unstable across time or rebuilds (the `key_risks` column).
RISK_BASE_TAG_MUTABLE = "base-tag-mutable"
RISK_ADD_REMOTE_UNCHECKSUMMED = "add-remote-unchecksummed"
RISK_ADD_GIT = "add-git"
RISK_RUN_MOUNT_CACHE = "run-mount-cache"
RISK_ONBUILD_FROM_BASE = "onbuild-from-base"


@dataclass(frozen=True, slots=True)
class PointerPush:
    """A pointer entry to push after executing a `COPY --from`: `key` -> `target` state."""

    key: str
    target: str


@dataclass(slots=True)
class InstructionPlan:
    """The decisions for one instruction of a stage.

    `index` is the position in the stage's command list, after ONBUILD triggers
    are prepended and squashed bases merged. `origin_stage` is the stage the
    instruction was written in. `entry` is the cache entry to extract for a hit.
    `push_layer` is true when the builder must push the layer it produces under
    `key`. `push_pointer` is the pointer to push next to that layer, for a
    `COPY --from` that is executed.
    """

    index: int
    origin_stage: int
    line: int
    text: str
    kind: str
    key: str | None = None
    key_source: KeySource | None = None
    redirect_key: str | None = None
    redirect_hit: bool | None = None
    probed: bool = False
    decision: Decision = "unkeyed"
    entry: CacheEntry | None = None
    push_layer: bool = False
    push_pointer: PointerPush | None = None
    a_priori: bool = False
    source_stage: int | None = None  # stage index of a `COPY --from=<stage>`
    source_image: str | None = None  # reference of a `COPY --from=<image>`
    expired: bool = False  # probed, found, but older than `--cache-ttl`
    files_hashed: int = 0
    bytes_hashed: int = 0
    parts: tuple[str, ...] = ()  # key parts added by this instruction, for explanations
    # The same parts labelled by the key engine (cachelab.keys.parts.KeyPart objects).
    labelled_parts: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def hit(self) -> bool:
        return self.decision == "hit"

    @property
    def execute(self) -> bool:
        """Whether the builder must run the instruction (not a cache hit)."""
        return self.decision != "hit"

    @property
    def requires_unpacked_fs(self) -> bool:
        """Whether running this instruction needs the base filesystem (kaniko's RequiresUnpackedFS)."""
        return not self.hit and needs_filesystem(self.kind, self.text)


def needs_filesystem(kind: str, text: str) -> bool:
    """Return whether executing an instruction of `kind` needs the stage's root filesystem."""
    if kind in ("RUN", "COPY", "ADD"):
        return True
    if kind == "WORKDIR":
        return not _is_root_workdir(text)
    return False


def _is_root_workdir(text: str) -> bool:
    words = text.split(None, 1)
    return len(words) == 2 and words[1].strip() == "/"


@dataclass(slots=True)
class StagePlan:
    """The decisions for one stage.

    `index` is the stage's index as written, and a stage that absorbed squashed
    bases lists their indexes in `absorbed`. `save_files` are the paths a later
    `COPY --from` reads, with variables expanded and wildcards not yet matched,
    to save under `/kaniko/deps/<index>`.
    `save_stage` is true when a later stage uses this one as its FROM base.
    """

    index: int
    name: str | None
    base_kind: BaseKind
    base_ref: str | None
    base_index: int | None
    action: StageAction = "built"
    squashed_into: int | None = None
    absorbed: tuple[int, ...] = ()
    seed: str | None = None
    final_key: str | None = None
    key_a_priori: bool = False
    key_blockers: list[str] = field(default_factory=list)
    key_risks: list[str] = field(default_factory=list)
    should_unpack: bool = False
    unpack_reason: str | None = None
    save_files: tuple[str, ...] = ()
    save_stage: bool = False
    is_final: bool = False
    is_push: bool = False
    instructions: list[InstructionPlan] = field(default_factory=list)

    @property
    def built(self) -> bool:
        return self.action == "built"

    @property
    def cache_hits(self) -> int:
        return sum(1 for instruction in self.instructions if instruction.decision == "hit")

    @property
    def cache_misses(self) -> int:
        return sum(1 for instruction in self.instructions if instruction.decision == "miss")
