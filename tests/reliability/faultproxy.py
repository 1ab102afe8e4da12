"""A fault-injecting HTTP proxy on 127.0.0.1 in front of a real registry.

`FaultProxy` forwards every request to the upstream registry. For requests that
match a `Fault` it breaks the exchange on purpose with one of these kinds:

* "status": an error status instead of the registry's response;
* "retry-after": 429 with a `Retry-After` header;
* "reset" and "truncate": a connection reset (RST) or a clean close (FIN) in the
  middle of the response body, or before any response when the body is empty;
* "corrupt": one byte altered in the request body, or in the response body of a
  request without one;
* "slow": the response delayed by a bounded time.

With `require_token` the proxy also plays a Bearer token server: every /v2/
request gets 401 until it carries a token from the proxy's own /token endpoint.
The proxy counts each fault it injects in `injected`, so tests can prove that
the faults really happened.
"""

from __future__ import annotations

import http.client
import http.server
import json
import logging
import re
import secrets
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

KINDS = ("status", "retry-after", "reset", "truncate", "corrupt", "slow")
MAX_DELAY = 5.0  # seconds; a slow fault never waits longer, so tests stay bounded


@dataclass
class Fault:
    """One fault for requests whose method and path match.

    `path` is a regular expression searched in the request path (query included).
    `times` is how many matching requests the fault breaks (None: all of them),
    and `skip` how many matching requests pass untouched first. `status` is the
    response status of a "status" fault, `retry_after` the header of a
    "retry-after" fault (status 429), `delay` the seconds a "slow" fault waits
    before it responds.
    """

    kind: str
    method: str | None = None
    path: str = ""
    times: int | None = 1
    skip: int = 0
    status: int = 503
    retry_after: str = "0"
    delay: float = 0.2
    seen: int = field(default=0, init=False)
    applied: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known kinds: {', '.join(KINDS)}")
        if not 0 <= self.delay <= MAX_DELAY:
            raise ValueError(f"delay {self.delay} s is outside 0..{MAX_DELAY} s")

    def claim(self, method: str, path: str) -> bool:
        """Count a request against this fault; return whether the fault applies to it."""
        if self.method is not None and method != self.method:
            return False
        if not re.search(self.path, path):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        if self.times is not None and self.applied >= self.times:
            return False
        self.applied += 1
        return True


@dataclass
class Exchange:
    """One request the proxy handled: method, path, the status sent back and the fault, if any."""

    method: str
    path: str
    status: int
    fault: str | None


class FaultProxy:
    """A threaded proxy to `upstream` (host:port); `address` is the proxy's host:port."""

    def __init__(self, upstream: str, *, require_token: bool = False) -> None:
        self.upstream = upstream
        self.require_token = require_token
        self.faults: list[Fault] = []
        self.injected: Counter[str] = Counter()
        self.exchanges: list[Exchange] = []
        self.tokens: set[str] = set()
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        """Drop all faults and forget issued tokens (the next request needs a new one)."""
        with self._lock:
            self.faults.clear()
            self.tokens.clear()

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.claim(method, path):
                    self.injected[fault.kind] += 1
                    return fault
        return None

    def issue_token(self) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            self.tokens.add(token)
        return token

    def token_valid(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self._lock:
            return header.removeprefix("Bearer ") in self.tokens

    def record(self, method: str, path: str, status: int, fault: str | None) -> None:
        with self._lock:
            self.exchanges.append(Exchange(method, path, status, fault))


# Hop-by-hop headers are not forwarded (RFC 9110, section 7.6.1).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
                         "upgrade", "proxy-authenticate", "proxy-authorization"})


def _handler_for(proxy: FaultProxy) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._handle()

        do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("fault proxy: " + format, *args)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _handle(self) -> None:
            body = self._read_body()
            if self.path.startswith("/token"):
                self._send_token()
                return
            if proxy.require_token and not proxy.token_valid(self.headers.get("Authorization")):
                proxy.injected["401"] += 1
                self._send_simple(401, {"WWW-Authenticate": (
                    f'Bearer realm="http://{proxy.address}/token",service="fault-proxy"'
                )}, fault="401")
                return

            fault = proxy.fault_for(self.command, self.path)
            if fault is not None and fault.kind == "status":
                self._send_simple(fault.status, {}, fault="status")
                return
            if fault is not None and fault.kind == "retry-after":
                self._send_simple(429, {"Retry-After": fault.retry_after}, fault="retry-after")
                return
            kind = fault.kind if fault is not None else None
            corrupt_response = kind == "corrupt" and not body
            if kind == "corrupt" and body:
                # A request with a body has the body altered before it reaches the registry.
                body = _flip_byte(body)

            status, headers, payload = self._forward(body)
            if fault is not None and kind == "slow":
                time.sleep(fault.delay)
            if corrupt_response and payload and self.command != "HEAD":
                payload = _flip_byte(payload)
            proxy.record(self.command, self.path, status, kind)

            if kind in ("reset", "truncate") and len(payload) <= 1:
                # Nothing to cut in half: the registry acted, but its response is lost.
                self._drop_connection(reset=kind == "reset")
                return
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD" or not payload:
                return
            if kind in ("reset", "truncate"):
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self._drop_connection(reset=kind == "reset")
                return
            self.wfile.write(payload)

        def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            connection = http.client.HTTPConnection(proxy.upstream, timeout=30)
            try:
                connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    lowered = name.lower()
                    if lowered in _HOP_BY_HOP or lowered == "content-length":
                        continue
                    if lowered == "authorization" and proxy.require_token:
                        continue  # the upstream registry is anonymous
                    connection.putheader(name, value)
                if body or self.command in ("POST", "PUT", "PATCH"):
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body or None)
                response = connection.getresponse()
                payload = response.read()
                headers = []
                for name, value in response.getheaders():
                    if name.lower() in _HOP_BY_HOP:
                        continue
                    if name.lower() == "location":
                        value = value.replace(proxy.upstream, proxy.address)
                    headers.append((name, value))
                if not any(name.lower() == "content-length" for name, _ in headers):
                    headers.append(("Content-Length", str(len(payload))))
                return response.status, headers, payload
            finally:
                connection.close()

        def _send_simple(self, status: int, headers: dict[str, str], *, fault: str) -> None:
            body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": f"injected {fault} fault"}]}).encode()
            proxy.record(self.command, self.path, status, fault)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _send_token(self) -> None:
            body = json.dumps({"token": proxy.issue_token(), "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _drop_connection(self, *, reset: bool) -> None:
            if reset:
                # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            self.connection.close()

        def finish(self) -> None:
            # A dropped connection has no stream left to flush.
            try:
                super().finish()
            except (OSError, ValueError):
                pass

    return Handler


def _flip_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
