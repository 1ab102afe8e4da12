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
from cachelab.keys.flags import PROFILES, KanikoOptions
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


# Strategies that build with kaniko's multistage lookahead (FF_KANIKO_CACHE_LOOKAHEAD).
LOOKAHEAD_STRATEGIES = ("lookahead", "graph")


class InvalidBuildRequest(BuildError):
    """A build request with an unknown or contradicting strategy and profile, or a missing path."""


def strategy_fits(strategy: str, options: KanikoOptions) -> bool:
    """Tell whether `options` do what `strategy` promises.

    That is the layer cache on for every strategy but no-cache, and kaniko's
    multistage lookahead on for the strategies of `LOOKAHEAD_STRATEGIES` only,
    whatever it is for no-cache.
    """
    if strategy == "no-cache":
        # Without the cache, the lookahead flag has nothing to act on.
        return not options.cache
    return options.cache and options.cache_lookahead == (strategy in LOOKAHEAD_STRATEGIES)


def check_profile_fits(strategy: str, profile_name: str) -> None:
    """Raise InvalidBuildRequest when the named profile contradicts `strategy`.

    The recorded strategy labels the build in `cachelab regress`, so a profile
    that turns the cache or lookahead on or off against the strategy would file
    the build under the wrong group. Unknown names are left to `profile_name`
    and `kaniko_options`, which raise their own errors.
    """
    if strategy not in DEFAULT_PROFILES or profile_name not in PROFILES:
        return
    options = PROFILES[profile_name]
    if strategy_fits(strategy, options):
        return
    if options.cache and strategy == "no-cache":
        reason = "strategy no-cache builds without the layer cache, but the profile reads and writes it"
    elif not options.cache:
        reason = f"strategy {strategy} uses the layer cache, but the profile turns it off"
    elif options.cache_lookahead:
        reason = ("strategy per-stage caches each stage on its own, but the profile turns on "
                  "kaniko's multistage lookahead (FF_KANIKO_CACHE_LOOKAHEAD)")
    else:
        reason = (f"strategy {strategy} needs kaniko's multistage lookahead (FF_KANIKO_CACHE_LOOKAHEAD), "
                  "but the profile leaves it off")
    fitting = sorted(name for name, candidate in PROFILES.items() if strategy_fits(strategy, candidate))
    raise InvalidBuildRequest(
        f"profile {profile_name!r} contradicts strategy {strategy!r}: {reason}",
        hint=(f"Leave out --profile to use the strategy's profile {DEFAULT_PROFILES[strategy]}, or pass "
              f"a profile that fits strategy {strategy} ({', '.join(fitting)}), or change --strategy."),
    )


def check_environment_fits(strategy: str, options: KanikoOptions) -> None:
    """Raise InvalidBuildRequest when FF_KANIKO_* variables made `options` contradict `strategy`.

    Call it with the profile's options after the environment is applied. A
    profile alone always fits (`check_profile_fits`), so a mismatch here comes
    from FF_KANIKO_CACHE_LOOKAHEAD, the one variable that strategies differ in.
    """
    if strategy not in DEFAULT_PROFILES or strategy_fits(strategy, options):
        return
    state = "on" if options.cache_lookahead else "off"
    fitting = [name for name in ("per-stage", "lookahead") if strategy_fits(name, options)]
    raise InvalidBuildRequest(
        f"the environment turns kaniko's multistage lookahead {state} (FF_KANIKO_CACHE_LOOKAHEAD), "
        f"which contradicts strategy {strategy!r}",
        hint=("Unset FF_KANIKO_CACHE_LOOKAHEAD, so the build is recorded under the strategy it ran, "
              + (f"or pass --strategy {fitting[0]}." if fitting else "or change --strategy.")),
    )


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

    def __post_init__(self) -> None:
        if self.profile is not None:
            check_profile_fits(self.strategy, self.profile)

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
