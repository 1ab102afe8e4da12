"""Request and byte counters per registry operation, for the builder's events."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class OperationCounts:
    """Totals for one operation name, such as "blob GET" or "manifest PUT"."""

    requests: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    retries: int = 0


class TransferStats:
    """Thread-safe counters the registry client updates; read with `snapshot`, clear with `reset`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, OperationCounts] = {}

    def record(self, operation: str, *, requests: int = 0, sent: int = 0, received: int = 0, retries: int = 0) -> None:
        with self._lock:
            counts = self._counts.setdefault(operation, OperationCounts())
            counts.requests += requests
            counts.bytes_sent += sent
            counts.bytes_received += received
            counts.retries += retries

    def snapshot(self) -> dict[str, OperationCounts]:
        """Return a copy of the counters by operation."""
        with self._lock:
            return {name: OperationCounts(**vars(counts)) for name, counts in self._counts.items()}

    def reset(self) -> dict[str, OperationCounts]:
        """Return the counters and start again from zero."""
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(c.requests for c in self._counts.values())
