"""Servers on 127.0.0.1 that misbehave on purpose, which a real registry cannot do on demand.

`ScriptedRegistry` responds to every request from a handler function, so a test can
serve a malformed manifest or a success status for a push that stored nothing.
`HungServer` accepts connections and never responds.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class Reply:
    """One HTTP response: status, body and headers.

    Content-Length is the body's length unless `headers` sets it. The body of a
    HEAD response is not sent, so a HEAD reply may carry the body whose length it
    reports.
    """

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    """One request the server received."""

    method: str
    path: str
    body: bytes


Handler = Callable[[Received], Reply]


class ScriptedRegistry:
    """An HTTP/1.1 server on a free port of 127.0.0.1 that responds to each request with `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.received: list[Received] = []
        registry = self

        class RequestHandler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(self.command, self.path, self.rfile.read(length) if length else b"")
                registry.received.append(request)
                reply = registry.handler(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in reply.headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def methods(self) -> list[str]:
        return [f"{request.method} {request.path.split('?')[0]}" for request in self.received]


class HungServer:
    """A TCP server on 127.0.0.1 that accepts connections, reads nothing and never answers."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # the listening socket was closed
                return
            self.connections.append(connection)

    def close(self) -> None:
        try:
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread on Linux
        except OSError:
            pass
        self._socket.close()
        for connection in self.connections:
            connection.close()
