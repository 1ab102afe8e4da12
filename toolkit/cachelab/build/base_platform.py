"""Check each remote base image's platform against the build's, and label built stages with it.

A RUN executes the base image's binaries on this machine, without emulation, so
a base for another architecture cannot run. The check compares the `os`,
`architecture` and `variant` of the base's config with the requested platform
(`--platform`, default the host's). A stage that a RUN executes in (its own, or
one of a later stage built on it with `FROM <stage>`) fails with
`PlatformMismatch`. A stage without RUN only copies files and sets metadata, so
it builds with a warning.

After each stage, `label_platform` writes the platform into the stage's config
as kaniko 6bcc934 does at the end of every stage (`DoBuild` in
pkg/executor/build.go): the requested os, architecture and variant with
`--platform` (kaniko's `--custom-platform`), else this machine's os and
architecture with the base's variant kept. So a stage without RUN on a foreign
base holds the base's files under the requested platform's label.

NOTE: a RUN that the plan marks as a cache hit does not execute, but it still
counts, so whether a build fails does not depend on what the cache holds.

An index with no manifest for the requested platform fails earlier, when the
planner resolves the base (`cachelab.oci.errors.ManifestNotFound`, which names
the reference and the platforms the index lists).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from cachelab.build.config import ImageConfig
from cachelab.build.errors import PlatformMismatch, location_prefix
from cachelab.dockerfile.model import Instruction
from cachelab.oci.manifest import Platform
from cachelab.plan.stages import PlanStage

logger = logging.getLogger(__name__)

# Architecture spellings that some configs use for the OCI names.
_ARCHITECTURE_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "i386": "386"}


@dataclass(frozen=True, slots=True)
class ConfigPlatform:
    """The platform an image config names: os, architecture and variant (empty when absent)."""

    os: str
    architecture: str
    variant: str

    @classmethod
    def from_config(cls, config: bytes) -> ConfigPlatform:
        document = json.loads(config)
        architecture = str(document.get("architecture") or "")
        return cls(
            os=str(document.get("os") or ""),
            architecture=_ARCHITECTURE_ALIASES.get(architecture, architecture),
            variant=str(document.get("variant") or ""),
        )

    def matches(self, requested: Platform) -> bool:
        """Tell whether this config can run where `requested` runs.

        A variant is compared only when both sides name one, because many
        single-platform configs leave it out (arm64 images rarely say v8).
        """
        if self.os != requested.os or self.architecture != requested.architecture:
            return False
        return not (self.variant and requested.variant and self.variant != requested.variant)

    def __str__(self) -> str:
        text = f"{self.os or '?'}/{self.architecture or '?'}"
        return f"{text}/{self.variant}" if self.variant else text


def stages_running_commands(stages: Iterable[PlanStage]) -> set[int]:
    """Return the indexes of the stages whose root a RUN executes in.

    That is every stage with a RUN, and each stage it is built on with
    `FROM <stage>`, up the chain, because the child runs on the parent's files.
    """
    by_index = {stage.index: stage for stage in stages}
    running: set[int] = set()
    for stage in by_index.values():
        if not any(command.kind == "RUN" for command in stage.commands):
            continue
        current: PlanStage | None = stage
        while current is not None and current.index not in running:
            running.add(current.index)
            current = by_index.get(current.base_index) if current.base_index is not None else None
    return running


def check_base_platform(
    stage: PlanStage,
    config: bytes,
    *,
    requested: str | None,
    runs_commands: bool,
    from_instruction: Instruction | None = None,
    dockerfile: str | None = None,
) -> None:
    """Raise `PlatformMismatch` when the stage's base is for another platform and a RUN would execute it.

    `requested` is the build's platform (None: the host's), and `from_instruction`
    the FROM that names the base, for the error's line. Without a RUN the
    mismatch is logged as a warning that names `dockerfile` and that line.
    """
    assert stage.base_ref is not None
    wanted = Platform.parse(requested) if requested else Platform.host()
    found = ConfigPlatform.from_config(config)
    if found.matches(wanted):
        return
    if runs_commands:
        raise PlatformMismatch(
            f"base image {stage.base_ref} is for {found}, but the build targets {wanted}, "
            "so a RUN cannot execute its binaries on this machine",
            reference=stage.base_ref, requested=str(wanted), available=str(found),
            line=from_instruction.start_line if from_instruction is not None else None,
            instruction=from_instruction.text if from_instruction is not None else None,
        )
    where = location_prefix(dockerfile, from_instruction.start_line if from_instruction is not None else None)
    logger.warning(
        "%sstage %d: base image %s is for %s, but the build targets %s. The stage has no RUN, so it "
        "is built, and its config names %s (as kaniko writes it) while its files are the base's",
        where, stage.index, stage.base_ref, found, wanted, wanted,
    )


def label_platform(config: ImageConfig, requested: str | None) -> None:
    """Write the build's platform into a built stage's config, as kaniko does after each stage.

    With `requested` (`--platform`) the os, architecture and variant are the
    requested ones, and `os.version` is dropped because `os/arch[/variant]`
    cannot name one. Without it the os and architecture are this machine's and
    the variant stays as the base set it.
    """
    if requested is None:
        host = Platform.host()
        config.os, config.architecture = host.os, host.architecture
        return
    platform = Platform.parse(requested)
    config.os, config.architecture = platform.os, platform.architecture
    if platform.variant:
        config.extra["variant"] = platform.variant
    else:
        config.extra.pop("variant", None)
    config.extra.pop("os.version", None)
