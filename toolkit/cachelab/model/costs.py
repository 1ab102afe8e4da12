"""The model's cost parameters and their calibration from recorded builds.

Defaults are stated assumptions, not measurements: a 400 Mbit/s pull, a
160 Mbit/s push, local-disk unpack and snapshot rates, and one fixed RUN
workload. `calibrate` replaces the throughput parameters with rates measured
by the cachelab builder; the workload parameters stay as given, because a
real Dockerfile's RUN cost cannot be known without running it.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachelab.model.errors import CalibrationError

if TYPE_CHECKING:
    from cachelab.record import Recording

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CostModel:
    """Throughputs (bytes per second), latencies (seconds) and workload sizes (bytes)."""

    download_bytes_per_s: float = 50e6  # compressed bytes pulled from a registry
    upload_bytes_per_s: float = 20e6  # compressed bytes pushed to the cache repository
    unpack_bytes_per_s: float = 150e6  # uncompressed bytes extracted onto the root
    snapshot_bytes_per_s: float = 100e6  # uncompressed bytes scanned, tarred and compressed
    hash_bytes_per_s: float = 400e6  # context or stage files read for a key
    request_s: float = 0.05  # one registry round trip: manifest, config, probe or pointer
    run_s: float = 20.0  # duration of one executed RUN (assumed, the same for every RUN)
    run_output_bytes: int = 50_000_000  # uncompressed layer of one RUN
    copy_context_bytes: int = 5_000_000  # files one context COPY or ADD brings in
    copy_from_bytes: int = 20_000_000  # files one COPY --from brings in
    compression_ratio: float = 2.5  # uncompressed bytes per compressed byte

    def compressed(self, uncompressed: int) -> int:
        return int(uncompressed / self.compression_ratio)

    def output_bytes(self, kind: str, *, cross_stage: bool) -> int:
        """Return the uncompressed layer size an executed instruction of `kind` produces."""
        if kind == "RUN":
            return self.run_output_bytes
        if kind in ("COPY", "ADD"):
            return self.copy_from_bytes if cross_stage else self.copy_context_bytes
        return 0


# Span phases whose bytes per second calibrate each parameter.
_THROUGHPUT_PHASES = {
    "download_bytes_per_s": ("download",),
    "upload_bytes_per_s": ("push-layer",),
    "unpack_bytes_per_s": ("unpack",),
    "snapshot_bytes_per_s": ("snapshot",),
    "hash_bytes_per_s": ("hash-context",),
}


def calibrate(recording: Recording, base: CostModel | None = None) -> CostModel:
    """Fit the throughput and request-latency parameters to the spans of `recording`.

    Each throughput is the total bytes over the total seconds of the spans of its
    phase that carry bytes and last longer than zero; `request_s` is the mean
    length of `probe-cache` spans. Parameters without such spans keep `base`'s
    value. Raises CalibrationError when no parameter could be fitted.
    """
    model = base or CostModel()
    spans = recording.spans
    if spans.empty:
        raise CalibrationError("the recording has no spans to calibrate from")
    durations = spans["end_s"] - spans["start_s"]
    fitted: dict[str, Any] = {}
    for parameter, phases in _THROUGHPUT_PHASES.items():
        mask = spans["phase"].isin(phases) & spans["bytes"].notna() & (durations > 0)
        seconds = float(durations[mask].sum())
        total = float(spans.loc[mask, "bytes"].sum())
        if seconds > 0 and total > 0:
            fitted[parameter] = total / seconds
    probes = durations[spans["phase"] == "probe-cache"]
    if len(probes) > 0 and float(probes.mean()) > 0:
        fitted["request_s"] = float(probes.mean())
    if not fitted:
        raise CalibrationError(
            "the recording has no download, push-layer, unpack, snapshot, hash-context or "
            "probe-cache spans with bytes and a duration",
        )
    logger.info("calibrated %s", ", ".join(f"{name}={value:.3g}" for name, value in sorted(fitted.items())))
    return dataclasses.replace(model, **fitted)
