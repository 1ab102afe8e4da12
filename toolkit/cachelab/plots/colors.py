"""Colours shared by every cachelab figure, so a phase or decision looks the same everywhere."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from matplotlib import colormaps
from matplotlib.colors import to_hex

# Span phases as drawn on timelines and phase bars. The container phases (build,
# stage, instruction) are outlines of these and have no colour of their own.
PHASE_COLORS: dict[str, str] = {
    "resolve-base": "#8c564b",
    "download": "#1f77b4",
    "unpack": "#aec7e8",
    "hash-context": "#9467bd",
    "probe-cache": "#bcbd22",
    "execute": "#d62728",
    "snapshot": "#ff7f0e",
    "push-layer": "#2ca02c",
    "push-pointer": "#98df8a",
    "save-stage": "#17becf",
    "save-files": "#9edae5",
    "push-image": "#006d2c",
}

# Stage phase columns of the stages table, coloured like their main span phase.
PHASE_COLUMN_COLORS: dict[str, str] = {
    "resolve_s": PHASE_COLORS["resolve-base"],
    "download_s": PHASE_COLORS["download"],
    "unpack_s": PHASE_COLORS["unpack"],
    "hash_s": PHASE_COLORS["hash-context"],
    "probe_s": PHASE_COLORS["probe-cache"],
    "execute_s": PHASE_COLORS["execute"],
    "snapshot_s": PHASE_COLORS["snapshot"],
    "push_s": PHASE_COLORS["push-layer"],
    "save_s": PHASE_COLORS["save-stage"],
}

# Stage actions: what the strategy decided for a stage.
ACTION_COLORS: dict[str, str] = {
    "built": "#d62728",
    "eliminated": "#2ca02c",
    "squashed": "#17becf",
    "unused": "#c7c7c7",
}

# Instruction decisions.
DECISION_COLORS: dict[str, str] = {
    "hit": "#2ca02c",
    "miss": "#d62728",
    "not-probed": "#ff7f0e",
    "unkeyed": "#9467bd",
    "skipped": "#c7c7c7",
}

FALLBACK_COLOR = "#7f7f7f"


# The strategies cachelab ships, so each keeps its colour in every figure.
STRATEGY_COLORS: dict[str, str] = {
    "no-cache": "#7f7f7f",
    "per-stage": "#1f77b4",
    "lookahead": "#2ca02c",
    "graph": "#9467bd",
}


def strategy_colors(strategies: Iterable[str]) -> dict[str, str]:
    """Return a colour per strategy: fixed ones for known names, tab10 for the others."""
    palette = colormaps["tab10"]
    used = set(STRATEGY_COLORS.values())
    spare = itertools.cycle(
        [to_hex(palette(i)) for i in range(10) if to_hex(palette(i)) not in used]
    )
    colors = {}
    for name in strategies:
        colors[name] = STRATEGY_COLORS[name] if name in STRATEGY_COLORS else next(spare)
    return colors
