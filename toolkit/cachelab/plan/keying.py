"""The planner's access to the key engine: stage environments and instruction parts."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cachelab.dockerfile.model import Dockerfile, Instruction
from cachelab.keys.buildargs import BuildArgs, StageEnv, TransitionMemo, predefined_args
from cachelab.keys.dockerignore import FileContext
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.parts import KeyParts, MissingSourcePolicy, SourceRoot, instruction_parts

# The symbolic config Env and build arguments of a stage (ENV and ARG applied).
StageEnvironment = StageEnv


@dataclass(frozen=True, slots=True)
class CommandParts:
    """The key parts one command appends, with what hashing read."""

    key_parts: KeyParts
    # Derived once from `key_parts`, because memoised parts are read by every walk.
    _values: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _files: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_values", tuple(part.value for part in self.key_parts.parts))
        object.__setattr__(self, "_files", any(part.kind == "file" for part in self.key_parts.parts))

    @property
    def all(self) -> tuple[str, ...]:
        return self._values

    @property
    def files(self) -> bool:
        """Whether any part is a file hash (the key depends on file content)."""
        return self._files

    @property
    def files_hashed(self) -> int:
        return self.key_parts.files_hashed

    @property
    def bytes_hashed(self) -> int:
        return self.key_parts.bytes_hashed


# Memoised key parts by (instruction id, stage state key, source, files included).
# Each value keeps its instruction, so the id is not reused while the entry lives.
PartsMemo = dict[tuple[object, ...], tuple[Instruction, CommandParts]]

# Options that decide caching and probing but that computing key parts never reads.
_SCHEDULING_OPTIONS = (
    "cache", "cache_copy_layers", "cache_run_layers", "cache_ttl", "no_push_cache", "compression",
    "cache_lookahead", "cache_probe_after_miss", "infer_cross_stage_cache_key", "rolling_cache_key",
    "skip_cached_stages",
)
_DEFAULT_OPTIONS = KanikoOptions()


# Looked up by identity first, because hashing a KanikoOptions reads every field
# and a study requests the same few profile objects once per planner.
_PARTS_OPTIONS_BY_ID: dict[int, tuple[KanikoOptions, KanikoOptions]] = {}


def parts_options(options: KanikoOptions) -> KanikoOptions:
    """Return `options` with every option that key parts never read set to its default.

    Two option sets with equal results give every instruction the same parts, so
    their Keyers can share one `PartsMemo`.
    """
    known = _PARTS_OPTIONS_BY_ID.get(id(options))
    if known is not None and known[0] is options:
        return known[1]
    result = _parts_options(options)
    if len(_PARTS_OPTIONS_BY_ID) >= 64:
        _PARTS_OPTIONS_BY_ID.clear()
    # The entry keeps `options` alive, so its id is not reused while it lives.
    _PARTS_OPTIONS_BY_ID[id(options)] = (options, result)
    return result


@functools.lru_cache(maxsize=64)
def _parts_options(options: KanikoOptions) -> KanikoOptions:
    return options.with_changes(**{name: getattr(_DEFAULT_OPTIONS, name) for name in _SCHEDULING_OPTIONS})


class Keyer:
    """Computes key parts for one build: its options, context, `.dockerignore` and arguments.

    With a `memo` the parts of each instruction are computed once per stage state
    (`StageEnv.state_key`) and source, and files are hashed only the first time.
    Share a memo only between Keyers with equal `parts_options`, context and
    missing-source policy, and only while the context and stage files cannot change.
    """

    def __init__(
        self,
        options: KanikoOptions,
        *,
        dockerfile: Dockerfile,
        context_dir: str,
        dockerfile_path: str | os.PathLike[str],
        build_args: Mapping[str, str],
        platform: str | None,
        last_stage: str | None,
        missing_source: MissingSourcePolicy = "raise",
        memo: PartsMemo | None = None,
    ) -> None:
        self.options = options
        self.missing_source = missing_source
        self._memo = memo
        # Every environment starts from a clone of `_args`, so one memo serves them all.
        self._transitions = TransitionMemo() if memo is not None else None
        self.context = FileContext.from_dockerfile(
            dockerfile_path, context_dir,
            scoped=options.scoped_dockerignore, precompile=options.precompile_dockerignore,
        )
        self._args = BuildArgs.from_options(
            dict(build_args), predefined=predefined_args(target_platform=platform, last_stage=last_stage),
        )
        # kaniko expands ARG and ENV values with a backslash escape whatever the
        # Dockerfile's escape directive says, so the default escape is kept here.
        self._args.add_meta_args(dockerfile.meta_args)

    def with_options(self, options: KanikoOptions) -> Keyer:
        """Return a Keyer for `options` that shares this one's context, arguments and memo.

        Raises ValueError unless `options` key like this Keyer's (`parts_options`).
        """
        if parts_options(options) != parts_options(self.options):
            raise ValueError("the options differ in a setting that key parts read; build a new Keyer")
        keyer = copy.copy(self)
        keyer.options = options
        return keyer

    def stage_environment(self, base_env: Sequence[str] | None) -> StageEnv:
        """Start the environment of a stage on a remote base (None: its config has no Env)."""
        environment = StageEnv.for_base(
            base_env, self._args.clone(),
            arg_precedence=self.options.buildkit_arg_env_precedence,
        )
        if self._transitions is not None:
            environment.track(self._transitions)
        return environment

    def parts(
        self, instruction: Instruction, environment: StageEnv, *, source: tuple[str, str] | None,
    ) -> CommandParts:
        """Return the full parts of `instruction`; `source` locates a COPY --from's files."""
        return self._memoized(instruction, environment, source, include_files=True)

    def instruction_part(self, instruction: Instruction, environment: StageEnv) -> tuple[str, ...]:
        """Return the parts of `instruction` without file inputs (the inference path)."""
        return self._memoized(instruction, environment, None, include_files=False).all

    def _memoized(
        self, instruction: Instruction, environment: StageEnv, source: tuple[str, str] | None, *,
        include_files: bool,
    ) -> CommandParts:
        if self._memo is None:
            return self._compute(instruction, environment, source, include_files=include_files)
        memo_key = (id(instruction), environment.state_key(), source, include_files)
        cached = self._memo.get(memo_key)
        if cached is not None and cached[0] is instruction:
            return cached[1]
        parts = self._compute(instruction, environment, source, include_files=include_files)
        self._memo[memo_key] = (instruction, parts)
        return parts

    def _compute(
        self, instruction: Instruction, environment: StageEnv, source: tuple[str, str] | None, *,
        include_files: bool,
    ) -> CommandParts:
        root = SourceRoot(real=source[0], virtual=source[1]) if source is not None else None
        return CommandParts(instruction_parts(
            instruction, environment, options=self.options, context=self.context,
            source_root_for_from=root, include_files=include_files, missing_source=self.missing_source,
        ))
