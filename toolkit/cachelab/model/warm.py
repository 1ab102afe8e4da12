"""The model's scenario: a cold build that fills the cache, then an unchanged warm rebuild."""

from __future__ import annotations

from dataclasses import dataclass

from cachelab.keys.flags import profile as named_profile
from cachelab.model.cache import ModelCache
from cachelab.model.simulate import SimulatedBuild, SimulationInputs, simulate_build

# The profiles the static study compares, and the strategy each stands for.
PROFILE_STRATEGIES: dict[str, str] = {
    "kaniko": "per-stage",
    "kaniko-copy": "per-stage",
    "kaniko-lookahead": "lookahead",
}
# The profile each modelled strategy runs with (the builder's defaults).
STRATEGY_PROFILES: dict[str, str] = {"per-stage": "kaniko-copy", "lookahead": "kaniko-lookahead"}
SCENARIO = "warm-unchanged"


@dataclass(slots=True)
class WarmRebuild:
    """The cold build and the unchanged warm rebuild of one Dockerfile under one profile."""

    profile: str
    strategy: str
    cold: SimulatedBuild
    warm: SimulatedBuild


def warm_rebuild(inputs: SimulationInputs, profile_name: str, *, cold_costs: bool = True) -> WarmRebuild:
    """Simulate a cold build into a fresh cache, then the same build again.

    With `cold_costs=False` the cold build only fills the cache, which is all a
    caller that reads the warm build's costs needs.
    """
    options = named_profile(profile_name)
    strategy = PROFILE_STRATEGIES.get(profile_name, profile_name)
    cache = ModelCache()
    cold = simulate_build(
        inputs, strategy=strategy, profile=profile_name, options=options, cache=cache, costs=cold_costs,
    )
    warm = simulate_build(inputs, strategy=strategy, profile=profile_name, options=options, cache=cache)
    return WarmRebuild(profile=profile_name, strategy=strategy, cold=cold, warm=warm)
