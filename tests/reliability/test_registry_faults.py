"""Pull and push through a proxy that injects registry faults in front of a real registry.

Each case either succeeds after bounded retries, leaving a consistent store, or
fails with an error that names the reference and the fault, leaving no blob
whose digest does not match.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachelab.oci.copy import copy_image
from cachelab.oci.errors import DigestMismatch, OCIError, RegistryError, RegistryUnavailable
from cachelab.oci.image import ImageResolver
from cachelab.oci.layout import LayoutStore
from cachelab.oci.reference import parse_registry_reference
from cachelab.oci.registry import RegistryClient
from tests.fixtures.images import BusyboxImage
from tests.reliability.faultproxy import Fault, FaultProxy

pytestmark = pytest.mark.registry



def blob_get(kind: str, **options: Any) -> Fault:
    return Fault(kind, method="GET", path="/blobs/sha256:", **options)


def manifest_get(kind: str, **options: Any) -> Fault:
    return Fault(kind, method="GET", path="/manifests/", **options)


# Faults a pull survives: each is injected fewer times than the client's retry budget.
RECOVERABLE_PULL_FAULTS = {
    "5xx burst on manifest": [manifest_get("status", status=503, times=2)],
    "5xx burst on blob": [blob_get("status", status=500, times=3)],
    "429 with Retry-After": [blob_get("retry-after", retry_after="0", times=2)],
    "reset mid-blob": [blob_get("reset", times=2)],
    "truncated blob": [blob_get("truncate", times=2)],
    "slow responses": [blob_get("slow", delay=0.3, times=None)],
    "mixed": [manifest_get("status", status=502), blob_get("reset"),
              blob_get("truncate", skip=1), blob_get("retry-after")],
}


def through(proxy: FaultProxy, reference: str) -> str:
    return reference.replace(proxy.upstream, proxy.address, 1)


def upstream_client(proxy: FaultProxy) -> RegistryClient:
    return RegistryClient(proxy.upstream, anonymous=True)


def assert_store_consistent(store: Path) -> None:
    if LayoutStore(store).exists():
        assert LayoutStore(store).check() == []


@pytest.mark.parametrize("case", sorted(RECOVERABLE_PULL_FAULTS))
def test_pull_survives_fault(case: str, fault_proxy: FaultProxy, busybox_image: BusyboxImage, tmp_path: Path) -> None:
    faults = [Fault(f.kind, f.method, f.path, f.times, f.skip, f.status, f.retry_after, f.delay)
              for f in RECOVERABLE_PULL_FAULTS[case]]
    fault_proxy.add(*faults)

    result = copy_image(through(fault_proxy, busybox_image.registry_ref), f"oci:{tmp_path / 'store'}:busybox")

    assert result.manifest_digest == busybox_image.manifest_digest
    assert sum(fault_proxy.injected.values()) >= len(faults)
    assert LayoutStore(tmp_path / "store").check() == []


def test_pull_corrupted_blob_fails(fault_proxy: FaultProxy, busybox_image: BusyboxImage, tmp_path: Path) -> None:
    fault_proxy.add(blob_get("corrupt", times=None))
    reference = through(fault_proxy, busybox_image.registry_ref)

    with pytest.raises(DigestMismatch) as raised:
        copy_image(reference, f"oci:{tmp_path / 'store'}:busybox")

    assert f"{fault_proxy.address}/base/busybox@sha256:" in str(raised.value)
    assert fault_proxy.injected["corrupt"] >= 1
    store = LayoutStore(tmp_path / "store")
    assert_store_consistent(tmp_path / "store")
    assert store.find("busybox") is None


def test_pull_endless_5xx_names_reference(fault_proxy: FaultProxy, busybox_image: BusyboxImage, tmp_path: Path) -> None:
    fault_proxy.add(manifest_get("status", status=503, times=None))
    reference = through(fault_proxy, busybox_image.registry_ref)

    with pytest.raises(RegistryError) as raised:
        copy_image(reference, f"oci:{tmp_path / 'store'}:busybox")

    assert raised.value.status == 503
    assert reference in str(raised.value)
    assert "HTTP 503" in str(raised.value)
    # One first attempt plus the client's three retries, then it stops.
    assert fault_proxy.injected["status"] == 4


def test_pull_endless_resets_bounded(fault_proxy: FaultProxy, busybox_image: BusyboxImage, tmp_path: Path) -> None:
    fault_proxy.add(blob_get("reset", times=None))

    with pytest.raises(RegistryUnavailable) as raised:
        copy_image(through(fault_proxy, busybox_image.registry_ref), f"oci:{tmp_path / 'store'}:busybox")

    assert f"{fault_proxy.address}/base/busybox@sha256:" in str(raised.value)
    assert "connection lost" in str(raised.value)
    assert fault_proxy.injected["reset"] <= 8
    assert_store_consistent(tmp_path / "store")


def test_slow_beyond_timeout_is_retried(fault_proxy: FaultProxy, busybox_image: BusyboxImage) -> None:
    fault_proxy.add(manifest_get("slow", delay=1.5))
    reference = parse_registry_reference(through(fault_proxy, busybox_image.registry_ref))

    with RegistryClient(fault_proxy.address, anonymous=True, timeout=httpx.Timeout(0.5)) as client:
        raw = client.get_manifest(reference)

    assert raw.digest == busybox_image.manifest_digest
    assert client.stats.snapshot()["manifest GET"].retries == 1


def test_pull_with_token_flow(token_proxy: FaultProxy, busybox_image: BusyboxImage, tmp_path: Path) -> None:
    resolver = ImageResolver()
    reference = through(token_proxy, busybox_image.registry_ref)

    first = copy_image(reference, f"oci:{tmp_path / 'one'}:busybox", resolver=resolver)
    token_proxy.revoke_tokens()
    second = copy_image(reference, f"oci:{tmp_path / 'two'}:busybox", resolver=resolver)
    resolver.close()

    assert first.manifest_digest == busybox_image.manifest_digest
    assert second.manifest_digest == busybox_image.manifest_digest
    # One challenge for the first request, one after the tokens were revoked.
    assert token_proxy.injected["401"] == 2
    assert LayoutStore(tmp_path / "two").check() == []


def pushed_reference(proxy: FaultProxy) -> str:
    return f"{proxy.address}/pushed/{uuid.uuid4().hex[:10]}:v1"


@pytest.mark.parametrize(
    "faults",
    [
        [Fault("status", status=502, times=2, method="POST", path="/blobs/uploads/")],
        [Fault("status", status=503, times=2, method="PUT", path="/blobs/uploads/")],
        [Fault("retry-after", retry_after="0", times=2, method="PUT", path="/manifests/")],
        [Fault("slow", delay=0.3, times=None, method="PUT")],
        [Fault("status", status=500, method="HEAD", path="/blobs/")],
    ],
    ids=["5xx on upload start", "5xx on blob put", "429 on manifest put", "slow puts", "5xx on blob head"],
)
def test_push_survives_fault(faults: list[Fault], fault_proxy: FaultProxy, busybox_image: BusyboxImage) -> None:
    fault_proxy.add(*faults)
    destination = pushed_reference(fault_proxy)

    result = copy_image(busybox_image.layout_ref, destination)

    assert result.manifest_digest == busybox_image.manifest_digest
    assert sum(fault_proxy.injected.values()) >= 1
    with upstream_client(fault_proxy) as client:
        raw = client.get_manifest(parse_registry_reference(destination.replace(fault_proxy.address, fault_proxy.upstream)))
    assert raw.digest == busybox_image.manifest_digest


def test_push_lost_put_response(fault_proxy: FaultProxy, busybox_image: BusyboxImage) -> None:
    # The registry stores the blob, but the client never sees the 201: its retry
    # of the closed upload session must not turn a stored blob into a failure.
    fault_proxy.add(Fault("reset", method="PUT", path="/blobs/uploads/"))
    destination = pushed_reference(fault_proxy)

    result = copy_image(busybox_image.layout_ref, destination)

    assert result.manifest_digest == busybox_image.manifest_digest
    assert fault_proxy.injected["reset"] == 1


def test_chunked_push_lost_patch_response(fault_proxy: FaultProxy, busybox_image: BusyboxImage) -> None:
    # The busybox layer (about 1 MB) goes up in 256 KiB PATCH chunks. The registry
    # stores the second chunk, but its response is lost.
    fault_proxy.add(Fault("reset", method="PATCH", path="/blobs/uploads/", skip=1))
    resolver = ImageResolver(client_factory=lambda host: RegistryClient(host, anonymous=True, chunk_size=256 << 10))
    destination = pushed_reference(fault_proxy)

    result = copy_image(busybox_image.layout_ref, destination, resolver=resolver)
    resolver.close()

    assert result.manifest_digest == busybox_image.manifest_digest
    assert fault_proxy.injected["reset"] == 1


def test_push_corrupted_body_rejected(fault_proxy: FaultProxy, busybox_image: BusyboxImage) -> None:
    fault_proxy.add(Fault("corrupt", times=None, method="PUT", path="/blobs/uploads/"))
    destination = pushed_reference(fault_proxy)

    with pytest.raises(OCIError) as raised:
        copy_image(busybox_image.layout_ref, destination)

    message = str(raised.value)
    assert destination.rpartition(":")[0] in message
    assert "DIGEST_INVALID" in message
    upstream = parse_registry_reference(destination.replace(fault_proxy.address, fault_proxy.upstream))
    with upstream_client(fault_proxy) as client:
        assert client.head_manifest(upstream) is None
        for exchange in fault_proxy.exchanges:
            if exchange.fault == "corrupt":
                digest = exchange.path.rpartition("digest=")[2].replace("%3A", ":")
                assert client.head_blob(upstream.repository, digest) is None
