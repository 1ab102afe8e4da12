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
    import pandas as pd

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


# A throughput is fitted only from phases that move at least MIN_FIT_BYTES over at
# least MIN_FIT_SECONDS. Below that, the quotient measures per-span costs (a
# registry round trip or an fsync, about 1 to 10 ms each in recordings on a local
# registry) or a local copy of a small base. One cold build with 91-byte layers
# fitted an upload rate of 8.4 kB/s and a download rate of 8.4 GB/s.
# NOTE: both limits are judgment, not measured error bounds. 10 MB lies between
# the model's context COPY (5 MB) and RUN layer (50 MB) workloads.
MIN_FIT_BYTES = 10_000_000
MIN_FIT_SECONDS = 0.05

# Span phases whose bytes per second calibrate each parameter.
_THROUGHPUT_PHASES = {
    "download_bytes_per_s": ("download",),
    "upload_bytes_per_s": ("push-layer",),
    "unpack_bytes_per_s": ("unpack",),
    "snapshot_bytes_per_s": ("snapshot",),
    "hash_bytes_per_s": ("hash-context",),
}


CALIBRATION_RECORDING_HINT = (
    "Calibrate from a recording of builds whose layers and base images are as large as those you "
    "model, built against the registry and network you model (cachelab build --record, or "
    "cachelab compare --out)."
)


def _too_small(parameter: str, phases: tuple[str, ...], total: float, seconds: float) -> str:
    return (
        f"{parameter} not fitted: the recording's {'/'.join(phases)} spans move {total:.0f} bytes "
        f"in {seconds:.3g} s, and a fit needs at least {MIN_FIT_BYTES:,} bytes over at least "
        f"{MIN_FIT_SECONDS:g} s"
    )


def _fit_throughputs(
    spans: pd.DataFrame, durations: pd.Series, not_fitted: dict[str, str]
) -> dict[str, float]:
    """Return the throughputs the spans fit, by parameter.

    For each other phase that has spans with bytes, `not_fitted` gets the reason.
    """
    fitted = {}
    for parameter, phases in _THROUGHPUT_PHASES.items():
        mask = spans["phase"].isin(phases) & spans["bytes"].notna() & (durations > 0)
        seconds = float(durations[mask].sum())
        total = float(spans.loc[mask, "bytes"].sum())
        if seconds <= 0 or total <= 0:
            continue
        if total >= MIN_FIT_BYTES and seconds >= MIN_FIT_SECONDS:
            fitted[parameter] = total / seconds
        else:
            not_fitted[parameter] = _too_small(parameter, phases, total, seconds)
    return fitted


def _fit_request_s(
    spans: pd.DataFrame, durations: pd.Series, not_fitted: dict[str, str]
) -> float | None:
    """Return the mean seconds per registry request of the probe-cache spans, or None.

    Probes that made no request (a local cache directory) do not measure a
    registry round trip. When every probe is such a probe, the reason is added to `not_fitted`.
    """
    probes = spans["phase"] == "probe-cache"
    if not probes.any():
        return None
    # A span without a request count is taken as one round trip.
    requests = spans.loc[probes, "requests"].fillna(1).astype(float)
    remote = requests[requests > 0].index
    if len(remote) == 0:
        not_fitted["request_s"] = (
            f"request_s not fitted: the recording's {int(probes.sum())} probe-cache spans made no "
            "registry request (a local cache)"
        )
        return None
    seconds = float(durations[remote].sum())
    return seconds / float(requests[remote].sum()) if seconds > 0 else None


def calibrate(recording: Recording, base: CostModel | None = None) -> CostModel:
    """Fit the throughput and request-latency parameters to the spans of `recording`.

    Each throughput is the total bytes over the total seconds of the spans of its
    phase that carry bytes and last longer than zero, fitted only when they add
    up to at least MIN_FIT_BYTES and MIN_FIT_SECONDS; a phase below either limit
    is logged as a warning. `request_s` is the seconds per registry request of
    the `probe-cache` spans that made one; probes of a local cache make none.
    Parameters not fitted keep `base`'s value. Raises CalibrationError when no
    parameter could be fitted.
    """
    model = base or CostModel()
    spans = recording.spans
    if spans.empty:
        raise CalibrationError("the recording has no spans to calibrate from")
    durations = spans["end_s"] - spans["start_s"]
    not_fitted: dict[str, str] = {}
    fitted: dict[str, Any] = _fit_throughputs(spans, durations, not_fitted)
    request_s = _fit_request_s(spans, durations, not_fitted)
    if request_s is not None:
        fitted["request_s"] = request_s
    if not fitted and not_fitted:
        raise CalibrationError(
            "no cost parameter could be fitted: " + "; ".join(not_fitted.values()),
            hint=CALIBRATION_RECORDING_HINT,
        )
    if not fitted:
        raise CalibrationError(
            "the recording has no download, push-layer, unpack, snapshot, hash-context or "
            "probe-cache spans with bytes and a duration",
        )
    for parameter, reason in not_fitted.items():
        logger.warning("%s; keeping %.3g", reason, getattr(model, parameter))
    logger.info("calibrated %s", ", ".join(f"{name}={value:.3g}" for name, value in sorted(fitted.items())))
    return dataclasses.replace(model, **fitted)
