"""A registry client for the OCI distribution API (v2) over httpx.

One `RegistryClient` talks to one registry host. It speaks plain HTTP only to
loopback hosts (127.0.0.0/8, localhost, ::1) or hosts marked insecure, and HTTPS
otherwise. Authentication follows the registry's `WWW-Authenticate` challenge:
anonymous first, then Basic, or the Bearer token flow with tokens cached per
scope. Requests that fail with 429, a 5xx status or a connection error are
retried a bounded number of times with exponential backoff, honouring
`Retry-After`. The first retry per repository is a warning, and later ones are
counted in one warning when the client closes. A client made with
`stop_when_refused=True` instead gives up on a refused connection at once, and
sends no further request to the host after it or after a request whose
connection errors or timeouts used up its retries. Every
request is logged at INFO as method, URL (query secrets redacted) and status,
and counted in `stats`.
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import os
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from cachelab.oci import mediatypes
from cachelab.oci._blobstream import BlobStream
from cachelab.oci._retrylog import RetryLog
from cachelab.oci._files import sha256_digest
from cachelab.oci.auth import Challenge, Credentials, load_credentials, parse_challenge
from cachelab.oci.errors import (
    MAX_ERROR_BODY,
    BlobNotFound,
    DigestMismatch,
    ManifestNotFound,
    OCIError,
    RegistryError,
    RegistryUnavailable,
    Unauthorized,
    parse_error_codes,
)

# RawManifest and is_loopback are defined in modules without httpx and stay importable from here.
from cachelab.oci.manifest import RawManifest
from cachelab.oci.reference import Reference, is_loopback
from cachelab.oci.transfer import TransferStats

logger = logging.getLogger(__name__)
# httpx logs every request at INFO with the full URL, upload-session secrets in the
# query included; this module logs a redacted line per request instead.
logging.getLogger("httpx").setLevel(logging.WARNING)

# Each attempt of a request waits at most this long for the connection and for
# each read or write. A failed attempt is retried up to `max_retries` times.
DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
DEFAULT_TIMEOUT = httpx.Timeout(DEFAULT_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
DEFAULT_RETRIES = 3
# Environment variables that override the defaults above for every client made
# without an explicit `timeout` or `max_retries`.
TIMEOUT_ENV = "CACHELAB_REGISTRY_TIMEOUT"
RETRIES_ENV = "CACHELAB_REGISTRY_RETRIES"
BACKOFF_BASE = 0.5  # seconds before the first retry; doubles each time
MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is cut to this
# Blobs larger than this are uploaded in PATCH chunks of this size.
CHUNK_SIZE = 64 << 20
BLOB_READ_BUFFER = 1 << 20
# Query parameters whose values may appear in logs and errors; others are redacted.
_PUBLIC_QUERY = frozenset({"digest", "mount", "from", "n", "last", "service", "scope"})
_NOT_SET = object()
TIMEOUT_HINT = (
    f"The registry accepted the connection but did not answer in time: check whether it is hung or "
    f"overloaded, or raise ${TIMEOUT_ENV} (seconds per attempt) or ${RETRIES_ENV}."
)


def redact_url(url: str | httpx.URL) -> str:
    """Return `url` without user info and with non-public query values replaced by ***."""
    parts = urlsplit(str(url))
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode(
        [(key, value if key in _PUBLIC_QUERY else "***") for key, value in parse_qsl(parts.query, keep_blank_values=True)],
        safe=":*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class RegistryClient:
    """A client for one registry host; use one per host and share it between threads.

    `credentials` overrides the Docker config lookup; pass `anonymous=True` to send
    none. `transport` replaces httpx's network transport (tests use a mock one).
    `sleep` is called for backoff delays.

    With `stop_when_refused`, a refused connection is not retried, and every later
    request raises `RegistryUnavailable` without contacting the registry. The same
    happens after a request whose timeouts or other connection errors used up its
    retries. An optional store such as a layer cache uses it, so a build whose
    cache registry is down or hung does not wait out the retries of every cache
    operation. 5xx responses are retried as usual and never stop the client.
    """

    def __init__(
        self,
        registry: str,
        *,
        insecure: bool = False,
        credentials: Credentials | None = None,
        anonymous: bool = False,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stats: TransferStats | None = None,
        chunk_size: int = CHUNK_SIZE,
        stop_when_refused: bool = False,
    ) -> None:
        self.registry = registry
        self.api_host = "registry-1.docker.io" if registry == "docker.io" else registry
        scheme = "http" if insecure or is_loopback(registry) else "https"
        self.base_url = f"{scheme}://{self.api_host}"
        self.timeout = timeout_from_environment() if timeout is None else httpx.Timeout(timeout)
        self.max_retries = retries_from_environment() if max_retries is None else max_retries
        self.stats = stats if stats is not None else TransferStats()
        self.chunk_size = chunk_size
        self.stop_when_refused = stop_when_refused
        # The error after which no request is sent (a refused connection, or
        # connection errors that used up a request's retries).
        self.refused: RegistryUnavailable | None = None
        self._sleep = sleep
        self._anonymous = anonymous
        self._credentials: object = credentials if credentials is not None else _NOT_SET
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._client = httpx.Client(transport=transport, timeout=self.timeout, follow_redirects=True)
        self._retry_log = RetryLog(logger)
        # A caller that never closes the client (the planner's cache, for one)
        # still gets the retry counts when the client is collected or at exit.
        weakref.finalize(self, self._retry_log.summarize)

    def close(self) -> None:
        self._retry_log.summarize()
        self._client.close()

    def _scope_repository(self, scope: str) -> str:
        """Return "host/name" of the first repository in a token scope, or the host when it names none."""
        kind, _, rest = scope.partition(" ")[0].partition(":")
        name = rest.rpartition(":")[0]
        return f"{self.registry}/{name}" if kind == "repository" and name else self.registry

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- authentication ------------------------------------------------------

    @property
    def credentials(self) -> Credentials | None:
        if self._anonymous:
            return None
        if self._credentials is _NOT_SET:
            self._credentials = load_credentials(self.registry)
        return self._credentials  # type: ignore[return-value]

    def _auth_header(self, scope: str) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return self.credentials.basic_header() if self.credentials else None
        if challenge.scheme == "bearer":
            return f"Bearer {self._token(challenge, scope)}"
        return None

    def _token(self, challenge: Challenge, scope: str) -> str:
        realm = challenge.params.get("realm", "")
        service = challenge.params.get("service", "")
        key = (realm, service, scope)
        cached = self._tokens.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]

        if not realm:
            raise Unauthorized(reference=self.registry, operation="requesting a token",
                               detail="the Bearer challenge names no realm")
        params: list[tuple[str, str | int | float | bool | None]] = [("service", service)] if service else []
        params += [("scope", item) for item in scope.split(" ") if item]

        headers = {}
        if self.credentials:
            headers["Authorization"] = self.credentials.basic_header()
        try:
            response = self._client.get(realm, params=params, headers=headers)
        except httpx.TransportError as error:
            raise RegistryUnavailable(
                reference=self.registry, operation="requesting a token", method="GET",
                url=redact_url(realm), detail=f"token server unreachable: {error}",
            ) from error
        logger.info("GET %s %d", redact_url(response.url), response.status_code)
        self.stats.record("token GET", requests=1, received=len(response.content))

        if response.status_code != 200:
            raise Unauthorized(
                reference=self.registry, operation="requesting a token", method="GET",
                url=redact_url(response.url), status=response.status_code,
            )
        document = _json_object(response, self.registry, "requesting a token")
        token = document.get("token") or document.get("access_token")
        if not token:
            raise Unauthorized(reference=self.registry, operation="requesting a token",
                               detail="the token response has no token")
        # Renew a little before expiry; the distribution spec's default lifetime is 60 s.
        lifetime = float(document.get("expires_in") or 60)
        self._tokens[key] = (token, time.monotonic() + max(lifetime - 10, 1))
        return str(token)

    # -- the request loop ----------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        reference: str,
        scope: str,
        headers: dict[str, str] | None = None,
        content: Callable[[], bytes | Iterable[bytes]] | None = None,
        sent: int = 0,
        stream: bool = False,
        ok: tuple[int, ...] = (200,),
        not_found: type[RegistryError] = RegistryError,
    ) -> httpx.Response:
        """Send a request with auth and retries; returns the response if its status is in `ok`.

        `content` is a factory so a retried request can send its body again. With
        `stream`, the caller reads and closes the response.
        """
        attempt = 0
        tried_auth = False
        while True:
            if self.refused is not None:
                raise RegistryUnavailable(
                    f"{operation} for {reference} not sent: registry {self.registry} was unreachable earlier "
                    f"({self.refused.detail})",
                    reference=reference, operation=operation, method=method, url=redact_url(url),
                    detail="not sent after the registry was unreachable", hint=self.refused.hint,
                )
            request_headers = dict(headers or {})
            authorization = self._auth_header(scope)
            if authorization:
                request_headers["Authorization"] = authorization
            request = self._client.build_request(
                method, url, headers=request_headers, content=content() if content else None
            )
            try:
                response = self._client.send(request, stream=True)
            except httpx.TransportError as error:
                if self.stop_when_refused and _connection_refused(error):
                    self.refused = RegistryUnavailable(
                        f"registry {self.registry} refused the connection during {operation} for {reference} "
                        f"({method} {redact_url(url)}): {error}; no further requests are sent to it",
                        reference=reference, operation=operation, method=method, url=redact_url(url),
                        detail=f"connection refused: {error}",
                    )
                    raise self.refused from error
                if attempt < self.max_retries:
                    attempt += 1
                    self._backoff(attempt, None, method, url, str(error), operation, scope)
                    continue
                unreachable = RegistryUnavailable(
                    reference=reference, operation=operation, method=method, url=redact_url(url),
                    detail=self._describe(error, attempts=attempt + 1),
                    hint=TIMEOUT_HINT if isinstance(error, httpx.TimeoutException) else None,
                )
                if self.stop_when_refused:
                    self.refused = unreachable
                raise unreachable from error

            logger.info("%s %s %d", method, redact_url(response.url), response.status_code)
            self.stats.record(operation, requests=1, sent=sent)

            if response.status_code == 401 and not tried_auth:
                challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
                response.close()
                if challenge is None:
                    raise self._error(response, Unauthorized, reference, operation, method, b"")
                self._challenge = challenge
                # A cached token the registry rejects (revoked, or expired early) is
                # dropped, so the retry requests a new one.
                self._tokens = {key: value for key, value in self._tokens.items() if key[2] != scope}
                tried_auth = True
                continue
            if response.status_code in ok:
                if not stream:
                    response.read()
                    self.stats.record(operation, received=len(response.content))
                return response
            if (response.status_code == 429 or response.status_code >= 500) and attempt < self.max_retries:
                response.close()
                attempt += 1
                self._backoff(attempt, response.headers.get("Retry-After"), method, url,
                              f"HTTP {response.status_code}", operation, scope)
                continue

            body = _read_capped(response) if method != "HEAD" else b""
            response.close()
            if 200 <= response.status_code < 300:
                expected = " or ".join(str(status) for status in ok)
                raise RegistryError(
                    reference=reference, operation=operation, method=method, url=redact_url(response.url),
                    status=response.status_code,
                    detail=f"unexpected success status (the OCI distribution API specifies HTTP {expected} here)",
                    hint="Check that the host is an OCI distribution registry and not a proxy or another web server.",
                )
            if response.status_code in (401, 403):
                raise self._error(response, Unauthorized, reference, operation, method, body)
            if response.status_code == 404:
                raise self._error(response, not_found, reference, operation, method, body)
            raise self._error(response, RegistryError, reference, operation, method, body)

    def _backoff(
        self, attempt: int, retry_after: str | None, method: str, url: str, reason: str, operation: str, scope: str,
    ) -> None:
        delay = BACKOFF_BASE * 2 ** (attempt - 1)
        parsed = _parse_retry_after(retry_after)
        if parsed is not None:
            delay = min(parsed, MAX_RETRY_AFTER)
        self._retry_log.retrying(self._scope_repository(scope), method, redact_url(url), delay, attempt,
                                 self.max_retries, reason)
        self.stats.record(operation, retries=1)
        self._sleep(delay)

    def _error(
        self, response: httpx.Response, kind: type[RegistryError], reference: str,
        operation: str, method: str, body: bytes,
    ) -> RegistryError:
        codes, message = parse_error_codes(body)
        if method == "HEAD" and not message:
            message = "no error body, because the request was HEAD"
        return kind(reference=reference, operation=operation, method=method,
                    url=redact_url(response.url), status=response.status_code, codes=codes, detail=message)

    def _describe(self, error: httpx.TransportError, *, attempts: int) -> str:
        """Describe the transport error that ended a request after `attempts` attempts."""
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        if isinstance(error, httpx.TimeoutException):
            waited, phase = _timeout_of(error, self.timeout)
            return f"registry {self.registry} timed out after {tries} (the last waited {_seconds(waited)} s for {phase})"
        if isinstance(error, httpx.ConnectError):
            return f"registry {self.registry} is unreachable after {tries} (connection failed: {error})"
        return f"registry {self.registry} is unreachable after {tries} ({type(error).__name__}: {error})"

    # -- endpoints -----------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}/v2/{path}"

    def ping(self) -> None:
        """Check that the registry responds to /v2/; 200 and 401 both count as up."""
        try:
            response = self._client.get(self._url(""))
        except httpx.TransportError as error:
            raise RegistryUnavailable(
                reference=self.registry, operation="pinging", method="GET", url=self._url(""),
                detail=self._describe(error, attempts=1),
                hint=TIMEOUT_HINT if isinstance(error, httpx.TimeoutException) else None,
            ) from error
        logger.info("GET %s %d", self._url(""), response.status_code)
        self.stats.record("ping", requests=1)
        if response.status_code not in (200, 401):
            raise self._error(response, RegistryError, self.registry, "pinging", "GET", response.content)
        if response.status_code == 401:
            self._challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))

    def get_manifest(self, reference: Reference, *, accept: str = mediatypes.MANIFEST_ACCEPT) -> RawManifest:
        """Fetch a manifest or index by tag or digest; a digest reference is verified."""
        response = self._request(
            "GET", self._url(f"{reference.repository}/manifests/{reference.identifier}"),
            operation="manifest GET", reference=str(reference), scope=_scope(reference.repository, "pull"),
            headers={"Accept": accept}, not_found=ManifestNotFound,
        )
        data = response.content
        digest = sha256_digest(data)
        if reference.digest and digest != reference.digest:
            raise DigestMismatch(reference.digest, digest, where=f"manifest {reference}")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in mediatypes.MANIFESTS + mediatypes.INDEXES:
            media_type = _media_type_from_body(data) or media_type
        return RawManifest(data, media_type, digest)

    def head_manifest(self, reference: Reference) -> tuple[str, str, int] | None:
        """Return (digest, media type, size) of a manifest, or None when absent."""
        try:
            response = self._request(
                "HEAD", self._url(f"{reference.repository}/manifests/{reference.identifier}"),
                operation="manifest HEAD", reference=str(reference),
                scope=_scope(reference.repository, "pull"), headers={"Accept": mediatypes.MANIFEST_ACCEPT},
                not_found=ManifestNotFound,
            )
        except ManifestNotFound:
            return None
        return (
            response.headers.get("Docker-Content-Digest", ""),
            response.headers.get("Content-Type", "").split(";")[0].strip(),
            _content_length(response),
        )

    def put_manifest(self, reference: Reference, data: bytes, media_type: str) -> str:
        """Upload a manifest under the reference's tag (or digest) and check it is stored; returns its digest.

        The distribution API responds to a stored manifest with 201 Created, so any
        other status raises RegistryError. The manifest is then looked up by
        digest (`verify_manifest`), because a registry that responds to every request
        with success would otherwise pass for one that stored it.
        """
        digest = sha256_digest(data)
        self._request(
            "PUT", self._url(f"{reference.repository}/manifests/{reference.tag or digest}"),
            operation="manifest PUT", reference=str(reference), scope=_scope(reference.repository, "pull,push"),
            headers={"Content-Type": media_type}, content=lambda: data, sent=len(data), ok=(201,),
        )
        self.verify_manifest(reference.with_identifier(digest=digest))
        return digest

    def verify_manifest(self, reference: Reference) -> None:
        """Check that the registry serves the manifest `reference.digest` names; raises RegistryError if not.

        A HEAD whose Docker-Content-Digest header matches is enough. Without that
        header, the manifest is fetched and its bytes are hashed.
        """
        assert reference.digest is not None
        found = self.head_manifest(reference)
        if found is not None and found[0] == reference.digest:
            return
        if found is not None and not found[0]:
            try:
                self.get_manifest(reference)
            except (ManifestNotFound, DigestMismatch) as error:
                problem = f"a GET by digest failed: {error}"
            else:
                return
        elif found is None:
            problem = "a HEAD by digest answered 404"
        else:
            problem = f"a HEAD by digest returned Docker-Content-Digest {found[0]}"
        raise RegistryError(
            reference=str(reference), operation="verifying manifest PUT",
            detail=f"the registry accepted the manifest but does not serve it: {problem}",
            hint="Check that the host is an OCI distribution registry with working storage, then push again.",
        )

    def delete_manifest(self, reference: Reference) -> None:
        """Delete a manifest; a tag reference is first resolved to its digest."""
        digest = reference.digest
        if digest is None:
            found = self.head_manifest(reference)
            if found is None:
                raise ManifestNotFound(reference=str(reference), operation="deleting manifest", status=404)
            digest = found[0]
        self._request(
            "DELETE", self._url(f"{reference.repository}/manifests/{digest}"),
            operation="manifest DELETE", reference=str(reference), scope=_scope(reference.repository, "*"),
            ok=(200, 202), not_found=ManifestNotFound,
        )

    def list_tags(self, repository: str) -> list[str]:
        """Return every tag of a repository, following `Link` pagination."""
        tags: list[str] = []
        url: str | None = self._url(f"{repository}/tags/list")
        while url:
            response = self._request(
                "GET", url, operation="tags GET", reference=f"{self.registry}/{repository}",
                scope=_scope(repository, "pull"), not_found=ManifestNotFound,
            )
            found = _json_object(response, f"{self.registry}/{repository}", "tags GET").get("tags") or []
            if not isinstance(found, list) or not all(isinstance(tag, str) for tag in found):
                raise RegistryError(reference=f"{self.registry}/{repository}", operation="tags GET", method="GET",
                                    url=redact_url(response.url), status=response.status_code,
                                    detail="'tags' in the response is not an array of strings")
            tags.extend(found)
            next_link = response.links.get("next", {}).get("url")
            url = str(response.url.join(next_link)) if next_link else None
        return tags

    def head_blob(self, repository: str, digest: str) -> int | None:
        """Return a blob's size, or None when the repository does not have it."""
        try:
            response = self._request(
                "HEAD", self._url(f"{repository}/blobs/{digest}"), operation="blob HEAD",
                reference=f"{self.registry}/{repository}@{digest}", scope=_scope(repository, "pull"),
                not_found=BlobNotFound,
            )
        except BlobNotFound:
            return None
        return _content_length(response)

    def open_blob(self, repository: str, digest: str, *, size: int | None = None) -> BinaryIO:
        """Open a blob as a stream; its digest is verified when the stream reaches its end.

        A connection dropped mid-stream is resumed with a Range request.
        """
        reference = f"{self.registry}/{repository}@{digest}"
        url = self._url(f"{repository}/blobs/{digest}")

        def fetch(offset: int) -> httpx.Response:
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            return self._request("GET", url, operation="blob GET", reference=reference,
                                 scope=_scope(repository, "pull"), headers=headers, stream=True,
                                 ok=(200, 206), not_found=BlobNotFound)

        stream = BlobStream(fetch, digest=digest, size=size, where=f"blob {reference}",
                            stats=self.stats, max_resumes=self.max_retries)
        return io.BufferedReader(stream, BLOB_READ_BUFFER)  # type: ignore[return-value]

    def delete_blob(self, repository: str, digest: str) -> None:
        self._request("DELETE", self._url(f"{repository}/blobs/{digest}"), operation="blob DELETE",
                      reference=f"{self.registry}/{repository}@{digest}", scope=_scope(repository, "*"),
                      ok=(202,), not_found=BlobNotFound)

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Mount a blob from another repository of this registry; returns whether it was mounted.

        When the registry declines (202), the upload session it opened is cancelled.
        """
        response = self._start_upload(repository, digest, from_repository)
        if response.status_code == 201:
            return True
        location = str(response.url.join(response.headers.get("Location", "")))
        try:
            self._request("DELETE", location, operation="upload DELETE",
                          reference=f"{self.registry}/{repository}@{digest}", scope=_scope(repository, "pull,push"),
                          ok=(204, 200, 202, 404))
        except RegistryError as error:
            logger.debug("could not cancel upload session %s: %s", redact_url(location), error)
        return False

    def upload_blob(
        self, repository: str, opener: Callable[[], BinaryIO], digest: str, size: int,
        *, mount_from: str | None = None,
    ) -> str:
        """Upload a blob unless present; returns "exists", "mounted" or "uploaded".

        `opener` returns a fresh stream of the blob each time it is called, so a
        retry can send it again. Blobs above `chunk_size` go in PATCH chunks.
        """
        # A registry that reports another size on HEAD does not have this blob,
        # whatever its status code, so the blob is uploaded.
        if self.head_blob(repository, digest) == size:
            return "exists"
        response = self._start_upload(repository, digest, mount_from)
        if response.status_code == 201:
            return "mounted"
        reference = f"{self.registry}/{repository}@{digest}"
        location = _location(response, reference, "upload POST")
        scope = _scope(repository, "pull,push")

        if size > self.chunk_size:
            try:
                location = self._patch_chunks(location, opener, size, reference, scope)
            except RegistryError as error:
                # When a PATCH response is lost, the session is ahead of the client
                # and the retried PATCH fails (404 BLOB_UPLOAD_INVALID, or 416).
                # One new session sends the blob again from its start.
                if error.status not in (404, 416):
                    raise
                logger.warning("blob PATCH %s failed, restarting the upload: %s", reference, error)
                response = self._start_upload(repository, digest, None)
                location = _location(response, reference, "upload POST")
                location = self._patch_chunks(location, opener, size, reference, scope)
            body: Callable[[], bytes | Iterable[bytes]] | None = None
            sent = 0
        else:
            body = lambda: _stream_chunks(opener)
            sent = size
        put_url = str(httpx.URL(location).copy_merge_params({"digest": digest}))
        try:
            self._request("PUT", put_url, operation="blob PUT", reference=reference, scope=scope,
                          headers={"Content-Type": "application/octet-stream", "Content-Length": str(sent)},
                          content=body, sent=sent, ok=(201,))
        except RegistryError as error:
            # When the response to a completed PUT is lost, the retry reaches a session
            # the registry already closed (404 BLOB_UPLOAD_UNKNOWN) although it stored
            # the blob. The registry verified the digest, so a blob of the right size is
            # the one sent.
            if error.status != 404 or self.head_blob(repository, digest) != size:
                raise
            logger.warning("blob PUT %s: the upload session is gone but the registry has the blob", reference)
        return "uploaded"

    def _start_upload(self, repository: str, digest: str, mount_from: str | None) -> httpx.Response:
        params = {"mount": digest, "from": mount_from} if mount_from else {}
        scope = _scope(repository, "pull,push")
        if mount_from:
            scope += " " + _scope(mount_from, "pull")
        url = str(httpx.URL(self._url(f"{repository}/blobs/uploads/")).copy_merge_params(params))
        return self._request("POST", url, operation="upload POST",
                             reference=f"{self.registry}/{repository}@{digest}", scope=scope,
                             headers={"Content-Length": "0"}, ok=(201, 202))

    def _patch_chunks(self, location: str, opener: Callable[[], BinaryIO], size: int,
                      reference: str, scope: str) -> str:
        with opener() as stream:
            offset = 0
            while offset < size:
                chunk = stream.read(self.chunk_size)
                if not chunk:
                    break
                end = offset + len(chunk) - 1
                response = self._request(
                    "PATCH", location, operation="blob PATCH", reference=reference, scope=scope,
                    headers={"Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{end}",
                             "Content-Length": str(len(chunk))},
                    content=lambda data=chunk: data, sent=len(chunk), ok=(202,),  # type: ignore[misc]
                )
                location = _location(response, reference, "blob PATCH")
                offset = end + 1
        return location


def _json_object(response: httpx.Response, reference: str, operation: str) -> dict[str, Any]:
    """Return a response body that must be a JSON object; raises RegistryError when it is not."""
    try:
        document = json.loads(response.content)
    except ValueError as error:
        document = error
    if not isinstance(document, dict):
        raise RegistryError(
            reference=reference, operation=operation, method=response.request.method,
            url=redact_url(response.url), status=response.status_code,
            detail=f"the response body is not a JSON object: {response.content[:80]!r}",
            hint="Check that the host is an OCI distribution registry and not a proxy or another web server.",
        )
    return document


def _location(response: httpx.Response, reference: str, operation: str) -> str:
    """Return the absolute URL of an upload session's Location header; raises RegistryError when it is missing."""
    location = response.headers.get("Location")
    if not location:
        raise RegistryError(
            reference=reference, operation=operation, method=response.request.method,
            url=redact_url(response.url), status=response.status_code,
            detail="the response has no Location header for the upload session",
            hint="Check that the host is an OCI distribution registry; its upload API must return Location.",
        )
    return str(response.url.join(location))


def _content_length(response: httpx.Response) -> int:
    """Return the Content-Length header as a number, or 0 when it is missing or not a number."""
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isdigit() else 0


def _scope(repository: str, actions: str) -> str:
    return f"repository:{repository}:{actions}"


def _stream_chunks(opener: Callable[[], BinaryIO]) -> Iterator[bytes]:
    with opener() as stream:
        while chunk := stream.read(1 << 20):
            yield chunk


def _read_capped(response: httpx.Response) -> bytes:
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= MAX_ERROR_BODY:
            break
    return body[:MAX_ERROR_BODY]


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def _connection_refused(error: httpx.TransportError) -> bool:
    """Return whether `error` is a refused TCP connection, which means nothing listens at the host and port."""
    if not isinstance(error, httpx.ConnectError):
        return False
    # httpx wraps httpcore's ConnectError, which wraps the socket's OSError.
    cause: BaseException | None = error
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ConnectionRefusedError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False




def timeout_from_environment() -> httpx.Timeout:
    """Return the per-attempt timeout: $CACHELAB_REGISTRY_TIMEOUT seconds, else 30 s (10 s to connect)."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise OCIError(f"invalid ${TIMEOUT_ENV} {text!r}: expected a number of seconds above 0",
                       hint=f"Set ${TIMEOUT_ENV} to seconds per request attempt, such as 30, or unset it.")
    return httpx.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT_S))


def retries_from_environment() -> int:
    """Return how often a failed request is retried: $CACHELAB_REGISTRY_RETRIES, else 3."""
    text = os.environ.get(RETRIES_ENV, "").strip()
    if not text:
        return DEFAULT_RETRIES
    if not text.isdigit():
        raise OCIError(f"invalid ${RETRIES_ENV} {text!r}: expected a whole number of retries, 0 or more",
                       hint=f"Set ${RETRIES_ENV} to the retries per request, such as 3, or unset it.")
    return int(text)


def _timeout_of(error: httpx.TimeoutException, timeout: httpx.Timeout) -> tuple[float | None, str]:
    """Return the limit that `error` hit and what the request waited for."""
    if isinstance(error, httpx.ConnectTimeout):
        return timeout.connect, "the connection"
    if isinstance(error, httpx.WriteTimeout):
        return timeout.write, "sending the request"
    if isinstance(error, httpx.PoolTimeout):
        return timeout.pool, "a free connection"
    return timeout.read, "response data"


def _seconds(value: float | None) -> str:
    return "unlimited" if value is None else f"{value:g}"


def _media_type_from_body(data: bytes) -> str | None:
    try:
        document = json.loads(data)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    if document.get("mediaType"):
        return str(document["mediaType"])
    return mediatypes.OCI_INDEX if "manifests" in document else mediatypes.OCI_MANIFEST
