"""What a build is requested to do (`BuildRequest`) and what it produced (`BuildResult`).

A strategy names a kaniko option set: `no-cache` builds without `--cache`,
`per-stage` caches each stage's layers on its own (`kaniko-copy` by default),
and `lookahead` adds kaniko's multistage lookahead (`kaniko-lookahead`).
`graph` uses lookahead's options with BuildKit-like keys for `COPY --from`
(`cachelab.plan.graph`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cachelab.build.errors import BuildError
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.flags import profile as named_profile
from cachelab.plan.decisions import StagePlan
from cachelab.plan.graph import GRAPH_PROFILE

STRATEGIES = ("no-cache", "per-stage", "lookahead", "graph")

# The kaniko option set each strategy uses unless the request names another.
DEFAULT_PROFILES: dict[str, str] = {
    "no-cache": "no-cache",
    "per-stage": "kaniko-copy",
    "lookahead": "kaniko-lookahead",
    "graph": GRAPH_PROFILE,
}


class InvalidBuildRequest(BuildError):
    """A build request names an unknown strategy or profile, or a missing path."""



def dockerfile_id_of(file: str | Path) -> str:
    """Return the recorded `dockerfile_id` of FILE: the path as given, in pathlib's normal form.

    `./app/`, `app/` and `app` all give `app`. `cachelab build` and `cachelab
    compare` record this id for the same FILE, so `cachelab regress` pairs their
    builds. The path is not resolved, so a relative FILE pairs across two checkouts.
    """
    return str(Path(file))

@dataclass(frozen=True)
class BuildRequest:
    """One build: the Dockerfile, its context, the strategy and where things are stored.

    `cache` is `oci:DIR` (kaniko's one-layout-per-key form), a local directory
    (one layout store), a registry repository `HOST[:PORT]/REPO`, or None for the
    default layout store under `cachelab.cachedir.cache_home()`. `work_dir` is
    the directory the build's scratch directory is made in (None: the system's
    temporary directory); the scratch directory is removed when the build ends,
    the given directory stays. `destination`
    is `oci:DIR:TAG` or a registry reference; None pushes nothing, but the image
    digest is still computed. `image_store` is the layout store searched for base
    images before any registry (None: `cache_home()/images`). `secrets` maps a
    secret id to the host file that `RUN --mount=type=secret,id=ID` binds
    read-only. A secret's content never enters a key, a layer, a log line or an
    event.
    """

    dockerfile: Path
    context: Path
    strategy: str = "lookahead"
    profile: str | None = None
    options: KanikoOptions | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    targets: tuple[str, ...] = ()
    cache: str | None = None
    destination: str | None = None
    image_store: str | None = None
    platform: str | None = None
    work_dir: Path | None = None
    dockerfile_id: str | None = None
    run_id: str | None = None
    scenario: str | None = None
    step: int | None = None
    repeat: int | None = None
    insecure_registries: tuple[str, ...] = ()
    secrets: Mapping[str, Path] = field(default_factory=dict)

    @property
    def profile_name(self) -> str:
        """The profile in effect: the requested one, else the strategy's default."""
        if self.profile is not None:
            return self.profile
        if self.strategy not in DEFAULT_PROFILES:
            raise InvalidBuildRequest(
                f"unknown strategy {self.strategy!r}; known strategies: {', '.join(STRATEGIES)}",
                hint=f"Pass --strategy with one of: {', '.join(STRATEGIES)}.",
            )
        return DEFAULT_PROFILES[self.strategy]

    def kaniko_options(self) -> KanikoOptions:
        """Return the explicit options, else the profile's."""
        if self.options is not None:
            return self.options
        try:
            return named_profile(self.profile_name)
        except KeyError as exc:
            raise InvalidBuildRequest(str(exc.args[0]), hint="Pass one of the profiles listed.") from None


@dataclass(frozen=True, slots=True)
class LayerDescriptor:
    """One layer of a built image, as its manifest and config name it."""

    digest: str
    diff_id: str
    size: int
    media_type: str


@dataclass(frozen=True)
class OutputImage:
    """The image a build produced: raw manifest and config, and its layers in order."""

    manifest: bytes
    media_type: str
    config: bytes
    digest: str
    layers: tuple[LayerDescriptor, ...]
    reference: str | None = None  # where it was written, or None when only digested


@dataclass
class BuildResult:
    """The outcome of `build()`: ids, the image digest, wall time and every stage's plan."""

    build_id: str
    image_digest: str | None
    wall_s: float
    stages: list[StagePlan]
    image: OutputImage
