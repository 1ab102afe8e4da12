"""The planner's access to the key engine: stage environments and instruction parts."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cachelab.dockerfile.model import Dockerfile, Instruction
from cachelab.keys.buildargs import BuildArgs, StageEnv, predefined_args
from cachelab.keys.dockerignore import FileContext
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.parts import KeyParts, MissingSourcePolicy, SourceRoot, instruction_parts

# The symbolic config Env and build arguments of a stage (ENV and ARG applied).
StageEnvironment = StageEnv


@dataclass(frozen=True, slots=True)
class CommandParts:
    """The key parts one command appends, with what hashing read."""

    key_parts: KeyParts

    @property
    def all(self) -> list[str]:
        return self.key_parts.values

    @property
    def files(self) -> bool:
        """Whether any part is a file hash (the key depends on file content)."""
        return any(part.kind == "file" for part in self.key_parts.parts)

    @property
    def files_hashed(self) -> int:
        return self.key_parts.files_hashed

    @property
    def bytes_hashed(self) -> int:
        return self.key_parts.bytes_hashed


class Keyer:
    """Computes key parts for one build: its options, context, `.dockerignore` and arguments."""

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
    ) -> None:
        self.options = options
        self.missing_source = missing_source
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

    def stage_environment(self, base_env: Sequence[str] | None) -> StageEnv:
        """Start the environment of a stage on a remote base (None: its config has no Env)."""
        return StageEnv.for_base(
            base_env, self._args.clone(),
            arg_precedence=self.options.buildkit_arg_env_precedence,
        )

    def parts(
        self, instruction: Instruction, environment: StageEnv, *, source: tuple[str, str] | None,
    ) -> CommandParts:
        """Return the full parts of `instruction`; `source` locates a COPY --from's files."""
        root = SourceRoot(real=source[0], virtual=source[1]) if source is not None else None
        return CommandParts(instruction_parts(
            instruction, environment, options=self.options, context=self.context,
            source_root_for_from=root, missing_source=self.missing_source,
        ))

    def instruction_part(self, instruction: Instruction, environment: StageEnv) -> list[str]:
        """Return the parts of `instruction` without file inputs (the inference path)."""
        return instruction_parts(
            instruction, environment, options=self.options, context=self.context, include_files=False,
        ).values
