"""Build arguments visible to FROM lines: meta ARGs, build args and platform ARGs.

Meta ARGs are the ARG instructions before the first FROM. FROM lines see them
the way kaniko's `MakeKanikoStages` does (osscontainertools fork): every
`--build-arg` with a non-empty value, declared or not, overrides or adds to the
meta ARG defaults, unlike BuildKit, which hides undeclared build arguments.

The platform ARGs (TARGETPLATFORM, TARGETARCH, BUILDOS, ...) differ between the
two. BuildKit gives them to FROM lines and to meta ARG defaults. kaniko at
commit 6bcc934 does not: `resolveStagesArgs` in pkg/dockerfile/dockerfile.go
expands each FROM with the meta ARGs and build args only (`unifyArgs`), and
`expandNestedArgs` expands meta ARG defaults with earlier meta ARGs and the
build args. `InitPredefinedArgs` (pkg/dockerfile/buildargs.go) sets the
platform ARGs later, for the instructions inside stages. So
`FROM img:${TARGETARCH}` names `img:` under kaniko unless TARGETARCH is passed
as a build arg. `meta_arg_values` follows kaniko unless asked for BuildKit's
rule (`semantics="buildkit"`).
"""

from __future__ import annotations

import functools
import logging
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cachelab.dockerfile.errors import DockerfileError, ExpansionError
from cachelab.dockerfile.layer_warnings import UNSET_PLATFORM_ARG, DockerfileWarning, warn
from cachelab.dockerfile.lexer import expand, expand_word
from cachelab.dockerfile.model import Instruction

logger = logging.getLogger(__name__)

DEFAULT_PLATFORM = "linux/amd64"

# Whose rule decides which variables FROM lines and meta ARG defaults see.
FromArgSemantics = Literal["kaniko", "buildkit"]

# The platform ARGs BuildKit gives FROM lines, in `platform_args` order.
PLATFORM_ARG_NAMES = (
    "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
    "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
)

# platform.machine() spellings to OCI architecture and variant names.
_MACHINE_ARCHITECTURES = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform: `os/architecture[/variant]`."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    @classmethod
    @functools.lru_cache(maxsize=64)
    def parse(cls, text: str) -> Platform:
        """Parse `os/arch[/variant]`; raise ValueError on any other shape."""
        parts = text.strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"invalid platform {text!r}: expected os/architecture[/variant]")
        return cls(*parts)


@functools.cache
def host_platform() -> Platform:
    """Return the platform of this machine, or linux/amd64 when the machine is not known."""
    architecture = _MACHINE_ARCHITECTURES.get(platform.machine().lower())
    if architecture is None:
        return Platform.parse(DEFAULT_PLATFORM)
    return Platform("linux", *architecture)


def platform_args(
    target: Platform | str | None = None, build: Platform | str | None = None
) -> dict[str, str]:
    """Return the platform ARGs that FROM lines see; either platform defaults to the host's.

    These are the eight BuildKit names, with the platforms normalised by
    `Platform.parse`. `cachelab.keys.buildargs.predefined_args` serves a different
    step, the values a stage's declared ARGs fall back to in its RUN keys. That set
    adds `BUILDOSVERSION`, `TARGETOSVERSION` (both empty) and `TARGETSTAGE`, and
    keeps `--custom-platform` as written, because kaniko hashes that text. The
    target stage is not known yet when FROM lines are expanded, so one function
    cannot serve both.
    """
    build_platform = _as_platform(build)
    target_platform = _as_platform(target) if target is not None else build_platform
    return {
        "TARGETPLATFORM": str(target_platform),
        "TARGETOS": target_platform.os,
        "TARGETARCH": target_platform.architecture,
        "TARGETVARIANT": target_platform.variant,
        "BUILDPLATFORM": str(build_platform),
        "BUILDOS": build_platform.os,
        "BUILDARCH": build_platform.architecture,
        "BUILDVARIANT": build_platform.variant,
    }


def _as_platform(value: Platform | str | None) -> Platform:
    if value is None:
        return host_platform()
    if isinstance(value, Platform):
        return value
    return Platform.parse(value)


def split_arg(word: str) -> tuple[str, str | None]:
    """Split one ARG word `NAME[=default]` into the name and the raw default."""
    name, has_default, default = word.partition("=")
    return name, default if has_default else None


def meta_arg_values(
    meta_args: Sequence[Instruction],
    build_args: Mapping[str, str],
    *,
    predefined: Mapping[str, str],
    path: str,
    escape: str = "\\",
    semantics: FromArgSemantics = "kaniko",
) -> dict[str, str]:
    """Return the variables visible to FROM lines: meta ARGs, build args and, for BuildKit, platform ARGs.

    Each default is expanded against the defaults before it and all build
    arguments. Then every build argument with a non-empty value is added on
    top, so an empty `--build-arg NAME=` keeps a declared default. An ARG with
    no default and no build argument stays unset. The `predefined` platform
    ARGs take part only with `semantics="buildkit"`: kaniko 6bcc934 leaves them
    unset for FROM lines and meta ARG defaults (see the module docstring).
    """
    visible_predefined = predefined if semantics == "buildkit" else {}
    defaults: dict[str, str] = {}
    for instruction in meta_args:
        for word in instruction.args:
            name, default = split_arg(word)
            if default is None:
                continue
            visible = {**visible_predefined, **defaults, **build_args}
            unquoted = _strip_enclosing_quotes(default)
            try:
                defaults[name] = expand_word(unquoted, visible, escape=escape)
            except ExpansionError as exc:
                raise exc.located(path, instruction.start_line) from None

    values = {**visible_predefined, **defaults}
    values.update((name, value) for name, value in build_args.items() if value)
    return values


def _strip_enclosing_quotes(default: str) -> str:
    # kaniko removes one pair of matching quotes around a meta ARG default before
    # expanding it, so `ARG A='$B'` expands $B although the quotes are single.
    if len(default) >= 2 and default[0] in "'\"" and default[-1] == default[0]:
        return default[1:-1]
    return default


def expand_base(
    stage_base: str, values: Mapping[str, str], *, path: str, line: int, escape: str = "\\"
) -> str:
    """Expand a FROM image word against the meta ARG values; raise when it becomes empty.

    Warns once per line and ARG (see `layer_warnings.warn`) when the word uses
    a platform ARG that `values` leaves unset, because BuildKit would have set it.
    """
    try:
        expansion = expand(stage_base, values, escape=escape)
    except ExpansionError as exc:
        raise exc.located(path, line) from None
    _warn_unset_platform_args(stage_base, expansion.unmatched, path=path, line=line)
    expanded = expansion.value
    if not expanded.strip():
        raise DockerfileError(
            f"base image {stage_base!r} expands to an empty name",
            path=path,
            line=line,
            hint="Declare the ARG with a default before the first FROM, or pass --build-arg.",
        )
    return expanded


def _warn_unset_platform_args(stage_base: str, unset: frozenset[str], *, path: str, line: int) -> None:
    for name in PLATFORM_ARG_NAMES:
        if name not in unset:
            continue
        warning = DockerfileWarning(
            UNSET_PLATFORM_ARG, logger.name,
            "%s:%d: FROM %s uses %s, which kaniko leaves unset in FROM lines (BuildKit sets it); "
            "pass --build-arg %s=VALUE to set it",
            (path, line, stage_base, name, name),
        )
        warn(warning, key=(path, line, name))
