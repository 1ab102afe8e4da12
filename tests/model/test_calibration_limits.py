"""`calibrate` fits a throughput only from phases that move enough bytes for long enough."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cachelab.model.costs import MIN_FIT_BYTES, MIN_FIT_SECONDS, CostModel, calibrate
from cachelab.model.errors import CalibrationError
from cachelab.record import Recording


def recording_of(*phases: tuple[str, float | None, float], requests: int | None = None) -> Recording:
    """Return a recording with one span per (phase, bytes, seconds), each with `requests` registry requests."""
    spans = pd.DataFrame({
        "phase": [phase for phase, _, _ in phases],
        "bytes": [total for _, total, _ in phases],
        "start_s": [0.0] * len(phases),
        "end_s": [seconds for _, _, seconds in phases],
        "requests": pd.array([requests] * len(phases), dtype="Int64"),
    })
    return dataclasses.replace(Recording.empty(), spans=spans)


def test_calibrate_skips_small_phases(caplog: pytest.LogCaptureFixture) -> None:
    # The phases of one cold build of a two-stage example with 91-byte layers.
    recording = recording_of(
        ("download", 1_158_481, 0.000137),
        ("push-layer", 210, 0.025),
        ("unpack", 20_000_000, 0.2),
    )

    with caplog.at_level("WARNING", logger="cachelab.model.costs"):
        fitted = calibrate(recording)

    assert fitted.unpack_bytes_per_s == pytest.approx(100e6)
    assert fitted.download_bytes_per_s == CostModel().download_bytes_per_s
    assert fitted.upload_bytes_per_s == CostModel().upload_bytes_per_s
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("download_bytes_per_s not fitted: the recording's download spans "
                                  "move 1158481 bytes in 0.000137 s")
    assert messages[1].startswith("upload_bytes_per_s not fitted: the recording's push-layer spans")
    assert all(f"at least {MIN_FIT_BYTES:,} bytes over at least {MIN_FIT_SECONDS:g} s" in message
               for message in messages)


def test_calibrate_fits_at_limits() -> None:
    fitted = calibrate(recording_of(("snapshot", MIN_FIT_BYTES, MIN_FIT_SECONDS)))

    assert fitted.snapshot_bytes_per_s == pytest.approx(MIN_FIT_BYTES / MIN_FIT_SECONDS)


def test_calibrate_rejects_only_small_phases() -> None:
    recording = recording_of(("download", 1_158_481, 0.000137), ("snapshot", 4096, 0.009))

    with pytest.raises(CalibrationError) as caught:
        calibrate(recording)

    message = str(caught.value)
    assert message.startswith("no cost parameter could be fitted: download_bytes_per_s not fitted")
    assert "snapshot_bytes_per_s not fitted" in message
    assert "as large as those you model" in caught.value.hint


def test_calibrate_request_s_per_request() -> None:
    recording = recording_of(("probe-cache", None, 0.02), ("probe-cache", None, 0.04), requests=2)

    fitted = calibrate(recording)

    assert fitted.request_s == pytest.approx(0.015)


def test_calibrate_skips_local_cache_probes(caplog: pytest.LogCaptureFixture) -> None:
    # Probes of a local cache directory take microseconds and send no request.
    recording = recording_of(
        ("probe-cache", None, 0.00004), ("probe-cache", None, 0.00004), ("unpack", 20_000_000, 0.2), requests=0,
    )

    with caplog.at_level("WARNING", logger="cachelab.model.costs"):
        fitted = calibrate(recording)

    assert fitted.request_s == CostModel().request_s
    assert fitted.unpack_bytes_per_s == pytest.approx(100e6)
    assert [record.getMessage() for record in caplog.records] == [
        "request_s not fitted: the recording's 2 probe-cache spans made no registry request (a local cache); "
        "keeping 0.05",
    ]
