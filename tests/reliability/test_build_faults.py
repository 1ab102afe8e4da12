"""Full builds through the fault proxy: base pull, cache lookups and pushes, image push.

A build either succeeds after bounded retries or fails with an error naming the
reference. Whatever happens, every cache entry the registry holds is complete and
verifies, and an entry whose push failed is a miss for the next build.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cachelab.build.builder import build
from cachelab.build.request import BuildRequest, BuildResult
from cachelab.events import InstructionRecorded, ListSink
from cachelab.oci.cache import RegistryLayerCache
from cachelab.oci.errors import DigestMismatch, OCIError
from cachelab.oci.registry import RegistryClient
from tests.fixtures.images import BusyboxImage
from tests.reliability.faultproxy import Fault, FaultProxy

pytestmark = [pytest.mark.registry, pytest.mark.sandbox]

DOCKERFILE = """\
FROM {base}
COPY app.txt /app/app.txt
RUN cat /app/app.txt > /app/copy.txt && echo built > /app/built.txt
RUN wc -c /app/copy.txt > /app/size.txt
"""


class ProxiedBuild:
    """One Dockerfile built through the proxy, with its cache and image in the proxied registry."""

    def __init__(self, proxy: FaultProxy, busybox: BusyboxImage, directory: Path, image_store: Path) -> None:
        self.proxy = proxy
        self.repository = f"cache-{uuid.uuid4().hex[:10]}"
        self.directory = directory
        self.image_store = image_store
        base = busybox.registry_ref.replace(proxy.upstream, proxy.address, 1)
        (directory / "Dockerfile").write_text(DOCKERFILE.format(base=base))
        (directory / "context").mkdir()
        (directory / "context" / "app.txt").write_text("hello through faults\n" * 200)

    def run(self, strategy: str = "per-stage") -> tuple[BuildResult, list[str]]:
        sink = ListSink()
        request = BuildRequest(
            self.directory / "Dockerfile", self.directory / "context", strategy=strategy,
            cache=f"{self.proxy.address}/{self.repository}",
            destination=f"{self.proxy.address}/built/{self.repository}:latest",
            image_store=str(self.image_store), work_dir=self.directory,
        )
        result = build(request, sink=sink, progress=False)
        decisions = [event.decision for event in sink.events if isinstance(event, InstructionRecorded)]
        return result, decisions

    def verify_cache(self) -> list[str]:
        """Read every entry of the cache repository from the registry itself; return the tags.

        Each layer blob is streamed to its end, so the client's digest check runs.
        """
        with RegistryClient(self.proxy.upstream, anonymous=True) as client:
            try:
                tags = client.list_tags(self.repository)
            except OCIError:
                return []
            cache = RegistryLayerCache(client, self.repository)
            for tag in tags:
                entry = cache.lookup(tag)
                assert entry is not None, tag
                if entry.layer_digest is not None:
                    with cache.open_layer(entry) as stream:
                        while stream.read(1 << 20):
                            pass
        return tags


@pytest.fixture
def proxied(fault_proxy: FaultProxy, busybox_image: BusyboxImage, tmp_path: Path, image_store: Path) -> ProxiedBuild:
    return ProxiedBuild(fault_proxy, busybox_image, tmp_path, image_store)


def test_build_survives_mixed_faults(proxied: ProxiedBuild) -> None:
    proxy = proxied.proxy
    faults = [
        Fault("status", status=503, times=2, method="GET", path="/manifests/"),
        Fault("reset", method="GET", path="/blobs/sha256:"),
        Fault("truncate", skip=1, method="GET", path="/blobs/sha256:"),
        Fault("retry-after", times=2, method="PUT", path="/manifests/"),
        Fault("status", status=502, times=2, method="POST", path="/blobs/uploads/"),
        Fault("reset", method="PUT", path="/blobs/uploads/"),
        Fault("slow", delay=0.1, times=3),
    ]
    proxy.add(*faults)

    cold, cold_decisions = proxied.run()
    proxy.clear()
    warm, warm_decisions = proxied.run()

    for fault in faults:
        assert fault.applied == fault.times, fault
    assert "miss" in cold_decisions
    assert warm_decisions == ["hit"] * len(cold_decisions)
    # The image config carries build times, so the layers are compared, not the image digest.
    assert [layer.digest for layer in warm.image.layers] == [layer.digest for layer in cold.image.layers]
    assert len(proxied.verify_cache()) >= 3


def test_build_corrupted_push_fails_cleanly(proxied: ProxiedBuild) -> None:
    proxied.proxy.add(Fault("corrupt", times=None, method="PUT", path="/blobs/uploads/"))

    with pytest.raises(OCIError) as raised:
        proxied.run()

    assert f"{proxied.proxy.address}/" in str(raised.value)
    assert proxied.proxy.injected["corrupt"] >= 1
    # The rejected blobs never became entries.
    assert proxied.verify_cache() == []


def test_altered_base_layer_fails_build(proxied: ProxiedBuild) -> None:
    proxy = proxied.proxy
    proxy.add(Fault("corrupt", times=None, method="GET", path="/base/busybox/blobs/sha256:"))

    with pytest.raises(DigestMismatch) as raised:
        proxied.run()

    assert f"{proxy.address}/base/busybox@sha256:" in str(raised.value)
    assert proxy.injected["corrupt"] >= 1
    assert proxied.verify_cache() == []


def test_failed_entry_push_is_a_miss(proxied: ProxiedBuild) -> None:
    proxy = proxied.proxy
    # Blobs upload fine, but no manifest can be tagged: no entry may appear.
    proxy.add(Fault("status", status=500, times=None, method="PUT", path=f"/{proxied.repository}/manifests/"))

    try:
        _, first_decisions = proxied.run()
    except OCIError as error:
        assert proxied.repository in str(error)
        first_decisions = []
    assert proxied.verify_cache() == []

    proxy.clear()
    _, second_decisions = proxied.run()
    _, third_decisions = proxied.run()

    assert "hit" not in second_decisions
    assert "miss" in second_decisions
    assert "miss" not in third_decisions
    assert len(proxied.verify_cache()) >= 3
    if first_decisions:
        assert "hit" not in first_decisions
