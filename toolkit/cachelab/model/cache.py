"""The simulated cache: a MemoryCache that also remembers each layer's modelled size."""

from __future__ import annotations

from datetime import datetime

from cachelab.plan.memory import MemoryCache


class ModelCache(MemoryCache):
    """Layer entries without bytes; `sizes` holds each layer's modelled compressed size."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: dict[str, int] = {}

    def put_modelled_layer(self, key: str, compressed_bytes: int, *, created_by: str, created: datetime) -> None:
        """Store an empty layer entry under `key` that stands for `compressed_bytes` bytes."""
        self.put_layer_bytes(key, b"", created_by=created_by, created=created)
        self.sizes[key] = compressed_bytes

    def layer_size(self, key: str) -> int:
        """Return the modelled compressed size of the layer under `key` (0 if unknown)."""
        return self.sizes.get(key, 0)
