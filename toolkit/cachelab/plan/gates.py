"""kaniko's boolean gates that switch cache mechanisms on, from the options and flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cachelab.keys.flags import KanikoOptions


@dataclass(frozen=True, slots=True)
class Gates:
    """The gates of kaniko (osscontainertools fork, commit 6bcc934) that decide caching."""

    cache: bool
    cache_copy_layers: bool
    cache_run_layers: bool
    no_push_cache: bool
    ttl: timedelta
    rolling: bool
    probe_after_miss: bool
    lookahead: bool
    infer: bool
    skip_cached_stages: bool
    shared_base_cache: bool
    # The `graph` model keys a COPY --from by its source's key, with no pointers.
    graph: bool = False

    @classmethod
    def from_options(cls, options: KanikoOptions) -> Gates:
        return cls(
            cache=options.cache,
            cache_copy_layers=options.cache_copy_layers,
            cache_run_layers=options.cache_run_layers,
            no_push_cache=options.no_push_cache,
            ttl=options.cache_ttl,
            rolling=options.rolling_cache_key,
            probe_after_miss=options.cache_probe_after_miss,
            lookahead=options.cache_lookahead,
            infer=options.infer_cross_stage_cache_key,
            skip_cached_stages=options.skip_cached_stages,
            shared_base_cache=options.shared_base_cache,
        )

    @property
    def precompute(self) -> bool:
        """The lookahead precompute pass runs (`--cache` and CACHE_LOOKAHEAD)."""
        return self.cache and self.lookahead

    @property
    def inference(self) -> bool:
        """COPY --from keys go through pointers (INFER, copy and run layers cached; not `graph`)."""
        return (
            self.cache and self.infer and self.cache_copy_layers and self.cache_run_layers
            and not self.graph
        )

    @property
    def elimination(self) -> bool:
        """Stages whose consumers all hit are dropped after precompute."""
        return (
            self.cache and self.cache_copy_layers and self.skip_cached_stages
            and self.lookahead and self.infer and self.rolling
        )

    @property
    def push(self) -> bool:
        """Layers and pointers are pushed after executing."""
        return self.cache and not self.no_push_cache

    def caches_output(self, kind: str) -> bool:
        """Report whether an instruction of `kind` is probed and pushed (kaniko's ShouldCacheOutput)."""
        if not self.cache:
            return False
        if kind in ("RUN", "WORKDIR"):
            return self.cache_run_layers
        if kind in ("COPY", "ADD"):
            return self.cache_copy_layers
        return False

