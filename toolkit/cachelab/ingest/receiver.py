"""A small OTLP/HTTP trace receiver that keeps every export request on disk.

It accepts `POST /v1/traces` in the JSON (`application/json`) and protobuf
(`application/x-protobuf`) encodings, optionally gzip-compressed, as OTLP/HTTP
exporters send them. Each request is decoded, checked, and appended as one JSON
line to `traces.otlp.jsonl` in the output directory, so the file can be ingested
again later. It binds to loopback unless another host is given, because the spans
contain Dockerfile contents.
"""

from __future__ import annotations

import gzip
import http.server
import json
import logging
import threading
import zlib
from pathlib import Path
from typing import Any

from cachelab.ingest.errors import IngestError
from cachelab.ingest.otlp import (
    JSON_CONTENT_TYPE,
    PROTOBUF_CONTENT_TYPE,
    protobuf_to_request,
    spans_from_request,
)

logger = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
REQUESTS_FILE = "traces.otlp.jsonl"
# Maximum size of one request body. kaniko's batches are far smaller.
MAX_BODY_BYTES = 64 * 1024 * 1024


class TraceReceiver:
    """Receive OTLP/HTTP trace exports into `out_dir` until stopped or `max_requests` arrive."""

    def __init__(self, out_dir: str | Path, *, host: str = "127.0.0.1", port: int = 4318,
                 max_requests: int | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.requests_path = self.out_dir / REQUESTS_FILE
        self.max_requests = max_requests
        self.received = 0
        self._lock = threading.Lock()
        try:
            self._server = http.server.ThreadingHTTPServer((host, port), _handler_for(self))
        except OSError as exc:
            raise IngestError(
                f"cannot listen on {host} port {port}: {exc.strerror or exc}",
                hint="Pass another port, or 0 for a free one, and an address of this machine.",
            ) from exc
        self._server.daemon_threads = True

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}{TRACES_PATH}"

    def serve_forever(self) -> None:
        """Serve until `shutdown` is called or `max_requests` requests were stored."""
        logger.info("receiving OTLP traces on %s into %s", self.url, self.requests_path)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            logger.info("receiver on %s stopped after %d requests", self.url, self.received)

    def shutdown(self) -> None:
        """Stop `serve_forever` from another thread."""
        self._server.shutdown()

    def store(self, request: dict[str, Any]) -> int:
        """Append one decoded request to the requests file and return its number of spans."""
        spans = sum(1 for _ in spans_from_request(request, source="request"))
        line = json.dumps(request, separators=(",", ":"))
        with self._lock:
            with open(self.requests_path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            self.received += 1
            done = self.max_requests is not None and self.received >= self.max_requests
        if done:
            # shutdown() waits for serve_forever to return, so it cannot run on a handler thread
            # that serve_forever is waiting for.
            threading.Thread(target=self.shutdown, daemon=True).start()
        return spans


def decode_body(body: bytes, content_type: str, encoding: str) -> dict[str, Any]:
    """Return the request dict of an export body, raising `IngestError` if it is invalid."""
    if encoding == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as exc:
            raise IngestError(f"invalid gzip body: {exc}", hint="Send a valid gzip body or none.") from None
    elif encoding not in ("", "identity"):
        raise IngestError(f"unsupported Content-Encoding {encoding!r}", hint="Send gzip or no encoding.")

    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == JSON_CONTENT_TYPE:
        try:
            request = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IngestError(f"invalid JSON body: {exc}", hint="Send an ExportTraceServiceRequest.") from None
        if not isinstance(request, dict):
            raise IngestError("JSON body is not an object", hint="Send an ExportTraceServiceRequest.")
        return request
    if media_type == PROTOBUF_CONTENT_TYPE:
        return protobuf_to_request(body, source="request body")
    raise IngestError(
        f"unsupported Content-Type {content_type!r}",
        hint=f"Send {JSON_CONTENT_TYPE} or {PROTOBUF_CONTENT_TYPE}.",
    )


def _handler_for(receiver: TraceReceiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "cachelab-receive"

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != TRACES_PATH:
                self._reply(404, f"no such endpoint {self.path}; traces go to {TRACES_PATH}")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(413, f"body of {length} bytes exceeds {MAX_BODY_BYTES}")
                return
            body = self.rfile.read(length)
            content_type = self.headers.get("Content-Type", "")
            try:
                request = decode_body(body, content_type, self.headers.get("Content-Encoding", "").lower())
                spans = receiver.store(request)
            except IngestError as exc:
                logger.warning("rejected trace export from %s: %s", self.client_address[0], exc)
                status = 415 if "unsupported" in str(exc) else 400
                self._reply(status, str(exc))
                return
            logger.info("stored trace export of %d spans from %s", spans, self.client_address[0])
            # An empty ExportTraceServiceResponse means every span was accepted.
            if content_type.startswith(PROTOBUF_CONTENT_TYPE):
                self._send(200, b"", PROTOBUF_CONTENT_TYPE)
            else:
                self._send(200, b"{}", JSON_CONTENT_TYPE)

        def _reply(self, status: int, message: str) -> None:
            self._send(status, json.dumps({"message": message}).encode(), JSON_CONTENT_TYPE)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s %s", self.client_address[0], format % args)

    return Handler
