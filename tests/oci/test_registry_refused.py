"""A registry client against a closed port on 127.0.0.1: retries, or one refusal and no more requests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from cachelab.oci.errors import RegistryUnavailable
from cachelab.oci.reference import parse_registry_reference
from cachelab.oci.registry import RegistryClient
from tests.fixtures.registry import free_port


class CountingTransport(httpx.HTTPTransport):
    """httpx's real network transport, counting the requests it tries to send."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return super().handle_request(request)


@pytest.fixture
def closed_address() -> str:
    """host:port of a port on 127.0.0.1 that nothing listens on."""
    return f"127.0.0.1:{free_port()}"


def make_client(address: str, **options: object) -> tuple[RegistryClient, CountingTransport, list[float]]:
    transport = CountingTransport()
    delays: list[float] = []
    client = RegistryClient(address, transport=transport, sleep=delays.append, anonymous=True,
                            **options)  # type: ignore[arg-type]
    return client, transport, delays


def test_refused_connection_is_retried_by_default(closed_address: str) -> None:
    client, transport, delays = make_client(closed_address)
    reference = parse_registry_reference(f"{closed_address}/cache:a")

    with client, pytest.raises(RegistryUnavailable) as raised:
        client.get_manifest(reference)

    assert transport.sent == 4
    assert delays == [0.5, 1.0, 2.0]
    assert "Connection refused" in str(raised.value)
    assert client.refused is None


def test_stop_when_refused_sends_nothing_more(closed_address: str) -> None:
    client, transport, delays = make_client(closed_address, stop_when_refused=True)
    first = parse_registry_reference(f"{closed_address}/cache:a")
    second = parse_registry_reference(f"{closed_address}/cache:b")

    with client:
        with pytest.raises(RegistryUnavailable) as refused:
            client.get_manifest(first)
        with pytest.raises(RegistryUnavailable) as skipped:
            client.head_blob("cache", "sha256:" + "0" * 64)
        with pytest.raises(RegistryUnavailable):
            client.get_manifest(second)

    assert transport.sent == 1
    assert delays == []
    assert client.refused is refused.value
    assert f"registry {closed_address} refused the connection during manifest GET" in str(refused.value)
    assert "no further requests are sent to it" in str(refused.value)
    assert str(skipped.value).startswith(f"blob HEAD for {closed_address}/cache@sha256:")
    assert f"not sent: registry {closed_address} was unreachable earlier (connection refused" in str(skipped.value)
    assert skipped.value.retryable


@pytest.fixture
def silent_address() -> Iterator[str]:
    """host:port of a server on 127.0.0.1 that accepts connections and never responds."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_stop_after_timeouts_sends_nothing_more(silent_address: str) -> None:
    client, transport, delays = make_client(
        silent_address, stop_when_refused=True, timeout=httpx.Timeout(0.3), max_retries=1,
    )

    with client:
        with pytest.raises(RegistryUnavailable) as timed_out:
            client.get_manifest(parse_registry_reference(f"{silent_address}/cache:a"))
        with pytest.raises(RegistryUnavailable) as skipped:
            client.get_manifest(parse_registry_reference(f"{silent_address}/cache:b"))

    assert transport.sent == 2
    assert delays == [0.5]
    assert "timed out" in str(timed_out.value)
    assert client.refused is timed_out.value
    assert f"not sent: registry {silent_address} was unreachable earlier" in str(skipped.value)


def test_stop_when_refused_keeps_5xx_retries() -> None:
    responses = iter([httpx.Response(503), httpx.Response(200, content=b"{}", headers={"Content-Length": "2"})])
    delays: list[float] = []
    client = RegistryClient("registry.test", transport=httpx.MockTransport(lambda request: next(responses)),
                            sleep=delays.append, anonymous=True, stop_when_refused=True)

    with client:
        assert client.head_blob("app", "sha256:" + "0" * 64) == 2

    assert delays == [0.5]
    assert client.refused is None
