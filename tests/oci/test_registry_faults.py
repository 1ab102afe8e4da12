"""Faults a real registry cannot produce on demand, through a mock httpx transport."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator

import httpx
import pytest

from cachelab.oci.auth import Credentials
from cachelab.oci.errors import DigestMismatch, RegistryError, RegistryUnavailable, Unauthorized
from cachelab.oci.reference import parse_registry_reference
from cachelab.oci.registry import RegistryClient, redact_url

HOST = "registry.test"
MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}'
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
REFERENCE = parse_registry_reference(f"{HOST}/app:v1")


class StreamingMockTransport(httpx.BaseTransport):
    """Like httpx.MockTransport, but leaves the response body unread until the client reads it."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self.handler(request)


def make_client(handler: Callable[[httpx.Request], httpx.Response], **options: object) -> tuple[RegistryClient, list[float]]:
    delays: list[float] = []
    client = RegistryClient(HOST, transport=StreamingMockTransport(handler), sleep=delays.append,
                            anonymous=options.pop("anonymous", True), **options)  # type: ignore[arg-type]
    return client, delays


def manifest_response() -> httpx.Response:
    return httpx.Response(200, content=MANIFEST, headers={"Content-Type": MANIFEST_TYPE})


def test_https_for_remote_hosts() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return manifest_response()

    client, _ = make_client(handler)
    client.get_manifest(REFERENCE)
    assert seen == [f"https://{HOST}/v2/app/manifests/v1"]


def test_429_honours_retry_after() -> None:
    responses = iter([httpx.Response(429, headers={"Retry-After": "7"}), manifest_response()])
    client, delays = make_client(lambda request: next(responses))

    raw = client.get_manifest(REFERENCE)

    assert raw.data == MANIFEST
    assert delays == [7.0]
    assert client.stats.snapshot()["manifest GET"].retries == 1


def test_retry_after_is_capped() -> None:
    responses = iter([httpx.Response(429, headers={"Retry-After": "86400"}), manifest_response()])
    client, delays = make_client(lambda request: next(responses))
    client.get_manifest(REFERENCE)
    assert delays == [60.0]


def test_5xx_burst_then_success_backs_off() -> None:
    responses = iter([httpx.Response(503), httpx.Response(502), manifest_response()])
    client, delays = make_client(lambda request: next(responses))

    client.get_manifest(REFERENCE)

    assert delays == [0.5, 1.0]


def test_persistent_5xx_raises_retryable_error() -> None:
    body = b'{"errors":[{"code":"UNAVAILABLE","message":"storage backend down"}]}'
    client, delays = make_client(lambda request: httpx.Response(500, content=body), max_retries=2)

    with pytest.raises(RegistryError) as caught:
        client.get_manifest(REFERENCE)

    error = caught.value
    assert error.status == 500
    assert error.retryable
    assert error.codes == ("UNAVAILABLE",)
    assert "storage backend down" in str(error)
    assert len(delays) == 2


def test_error_codes_capped() -> None:
    body = ('{"errors":[' + ",".join(f'{{"code":"C{n}"}}' for n in range(50)) + "]}").encode()
    client, _ = make_client(lambda request: httpx.Response(400, content=body))
    with pytest.raises(RegistryError) as caught:
        client.get_manifest(REFERENCE)
    assert len(caught.value.codes) == 8
    assert not caught.value.retryable


def test_timeout_becomes_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client, delays = make_client(handler, max_retries=1)
    with pytest.raises(RegistryUnavailable) as caught:
        client.get_manifest(REFERENCE)
    assert "timed out" in str(caught.value)
    assert delays == [0.5]


def test_manifest_with_wrong_digest_rejected() -> None:
    client, _ = make_client(lambda request: manifest_response())
    wrong = REFERENCE.with_identifier(digest="sha256:" + "0" * 64)
    with pytest.raises(DigestMismatch):
        client.get_manifest(wrong)


def test_blob_with_wrong_content_rejected() -> None:
    data = b"blob content"
    digest = "sha256:" + hashlib.sha256(b"other content").hexdigest()
    client, _ = make_client(lambda request: httpx.Response(200, content=data))
    stream = client.open_blob("app", digest)
    with pytest.raises(DigestMismatch) as caught:
        stream.read()
    assert caught.value.expected == digest
    stream.close()


class DroppingStream(httpx.SyncByteStream):
    """A response body that sends `data[:cut]` and then fails like a dropped connection."""

    def __init__(self, data: bytes, cut: int) -> None:
        self.data = data
        self.cut = cut

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: self.cut]
        raise httpx.ReadError("connection reset by peer")


@pytest.mark.parametrize("supports_range", [True, False])
def test_blob_download_resumes(supports_range: bool) -> None:
    data = bytes(range(256)) * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    ranges: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        ranges.append(request.headers.get("Range"))
        if len(ranges) == 1:
            return httpx.Response(200, stream=DroppingStream(data, 100_000))
        start = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
        if supports_range:
            return httpx.Response(206, content=data[start:])
        return httpx.Response(200, content=data)

    client, _ = make_client(handler)
    with client.open_blob("app", digest, size=len(data)) as stream:
        assert stream.read() == data
    assert ranges == [None, "bytes=100000-"]


def test_bearer_token_flow_caches_per_scope() -> None:
    token_requests: list[httpx.QueryParams] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            token_requests.append(request.url.params)
            assert request.headers["Authorization"] == Credentials("user", "pw").basic_header()
            scope = request.url.params["scope"]
            return httpx.Response(200, json={"token": f"tok-{scope}", "expires_in": 300})
        expected = "Bearer tok-repository:app:pull"
        if request.headers.get("Authorization") != expected:
            return httpx.Response(401, headers={
                "WWW-Authenticate": f'Bearer realm="https://{HOST}/token",service="{HOST}",scope="repository:app:pull"'})
        return manifest_response()

    client, _ = make_client(handler, anonymous=False, credentials=Credentials("user", "pw"))
    client.get_manifest(REFERENCE)
    client.get_manifest(REFERENCE)

    assert len(token_requests) == 1
    assert token_requests[0]["service"] == HOST
    assert token_requests[0]["scope"] == "repository:app:pull"


def test_token_server_rejection_is_unauthorized() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(403)
        return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="https://{HOST}/token"'})

    client, _ = make_client(handler)
    with pytest.raises(Unauthorized) as caught:
        client.get_manifest(REFERENCE)
    assert caught.value.status == 403


def test_logs_never_contain_secrets(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(404)
        if request.method == "POST":
            return httpx.Response(202, headers={"Location": "/v2/app/blobs/uploads/u1?_state=SECRETSTATE"})
        return httpx.Response(201)

    client, _ = make_client(handler, anonymous=False, credentials=Credentials("user", "TOPSECRET"))
    caplog.set_level(logging.DEBUG)
    data = b"x"
    client.upload_blob("app", lambda: __import__("io").BytesIO(data), "sha256:" + hashlib.sha256(data).hexdigest(), 1)

    assert "_state=***" in caplog.text
    assert "SECRETSTATE" not in caplog.text
    assert "TOPSECRET" not in caplog.text


def test_redact_url_keeps_public_parameters() -> None:
    url = "https://user:pw@host/v2/app/blobs/uploads/x?_state=abc&digest=sha256:1&X-Amz-Signature=s"
    assert redact_url(url) == "https://host/v2/app/blobs/uploads/x?_state=***&digest=sha256:1&X-Amz-Signature=***"


def test_rejected_token_is_renewed() -> None:
    issued: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            issued.append(f"tok{len(issued)}")
            return httpx.Response(200, json={"token": issued[-1], "expires_in": 300})
        # The registry accepts only the newest token, as after a revocation.
        if issued and request.headers.get("Authorization") == f"Bearer {issued[-1]}" and len(issued) > 1:
            return manifest_response()
        return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="https://{HOST}/token"'})

    client, _ = make_client(handler)
    with pytest.raises(Unauthorized):
        client.get_manifest(REFERENCE)
    client.get_manifest(REFERENCE)
    assert issued == ["tok0", "tok1"]


@pytest.mark.parametrize(("registry", "insecure", "scheme"), [
    ("registry.test", True, "http"),
    ("localhost:5000", False, "http"),
    ("127.0.0.5:5000", False, "http"),
    ("[::1]:5000", False, "http"),
    ("10.0.0.1:5000", False, "https"),
])
def test_plain_http_only_for_loopback_or_insecure(registry: str, insecure: bool, scheme: str) -> None:
    client = RegistryClient(registry, insecure=insecure, anonymous=True,
                            transport=StreamingMockTransport(lambda request: manifest_response()))
    assert client.base_url.startswith(f"{scheme}://")
    client.close()


def test_transfer_stats_reset() -> None:
    client, _ = make_client(lambda request: manifest_response())
    client.get_manifest(REFERENCE)

    counts = client.stats.reset()

    assert counts["manifest GET"].requests == 1
    assert counts["manifest GET"].bytes_received == len(MANIFEST)
    assert client.stats.snapshot() == {}
    assert client.stats.total_requests == 0
