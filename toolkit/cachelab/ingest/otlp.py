"""Decode OTLP/HTTP trace export requests into plain spans.

An `ExportTraceServiceRequest` arrives either in the protobuf encoding or in its
JSON encoding. kaniko's JSON output follows the protobuf JSON mapping, so trace and
span ids are base64 and 64-bit integers are strings. The OTLP/JSON specification
writes ids as hex instead, and both are accepted here. A file may hold one request,
several requests one per line (as `cachelab receive` writes them), or several
requests concatenated into one `resourceSpans` list.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cachelab.ingest.errors import IngestError

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
PROTOBUF_CONTENT_TYPE = "application/x-protobuf"

AttributeValue = str | bool | int | float | list[Any] | None


@dataclass(frozen=True, slots=True)
class OtlpSpan:
    """One span with hex ids, Unix-epoch nanosecond times and decoded attributes.

    `resource` contains the attributes of the resource that exported the span (for
    kaniko: version, feature flags, Dockerfile path).
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    resource: dict[str, AttributeValue] = field(default_factory=dict)
    status_code: str | None = None
    status_message: str | None = None


def read_trace_file(path: str | Path) -> list[OtlpSpan]:
    """Return the spans of an OTLP trace file in JSON or protobuf encoding."""
    path = Path(path)
    data = path.read_bytes()
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        return list(spans_from_json_text(data.decode("utf-8"), source=str(path)))
    return list(spans_from_protobuf(data, source=str(path)))


def spans_from_json_text(text: str, *, source: str) -> Iterator[OtlpSpan]:
    """Yield the spans of one or more JSON-encoded requests, concatenated or one per line."""
    decoder = json.JSONDecoder()
    position = 0
    count = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        try:
            request, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise IngestError(
                f"{source}: invalid OTLP JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                hint="Pass the JSON body of an OTLP/HTTP ExportTraceServiceRequest.",
            ) from None
        count += 1
        yield from spans_from_request(request, source=f"{source} request {count}")
    if count == 0:
        raise IngestError(f"{source}: no OTLP request found", hint="Check that the file is not empty.")


def spans_from_protobuf(data: bytes, *, source: str) -> Iterator[OtlpSpan]:
    """Yield the spans of one protobuf-encoded `ExportTraceServiceRequest`."""
    yield from spans_from_request(protobuf_to_request(data, source=source), source=source)


def protobuf_to_request(data: bytes, *, source: str) -> dict[str, Any]:
    """Decode a protobuf request into the same dict the JSON encoding gives."""
    try:
        from google.protobuf import json_format  # type: ignore[import-untyped]
        from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    except ImportError:
        raise IngestError(
            f"{source}: reading protobuf OTLP needs the opentelemetry-proto package",
            hint="Install it with `pip install 'cachelab[ingest]'`, or export traces as JSON.",
        ) from None
    try:
        message = trace_service_pb2.ExportTraceServiceRequest.FromString(data)
    except DecodeError as exc:
        raise IngestError(
            f"{source}: invalid protobuf ExportTraceServiceRequest: {exc}",
            hint="Pass the body of an OTLP/HTTP trace export in protobuf or JSON encoding.",
        ) from None
    return json_format.MessageToDict(message)


def spans_from_request(request: object, *, source: str) -> Iterator[OtlpSpan]:
    """Yield the spans of one decoded request dict."""
    if not isinstance(request, dict) or not isinstance(request.get("resourceSpans", []), list):
        raise IngestError(
            f"{source}: not an ExportTraceServiceRequest (no resourceSpans list)",
            hint="Pass the body of an OTLP/HTTP trace export.",
        )
    for resource_spans in request.get("resourceSpans", []):
        resource = decode_attributes(resource_spans.get("resource", {}).get("attributes", []))
        # Older exporters name the list instrumentationLibrarySpans.
        scopes = resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []
        for scope_spans in scopes:
            for span in scope_spans.get("spans", []):
                yield _decode_span(span, resource, source)


def _decode_span(span: dict[str, Any], resource: dict[str, AttributeValue], source: str) -> OtlpSpan:
    try:
        name = str(span["name"])
        trace_id = decode_id(span["traceId"], 16, source)
        span_id = decode_id(span["spanId"], 8, source)
        parent = span.get("parentSpanId")
        start_ns = int(span["startTimeUnixNano"])
        end_ns = int(span["endTimeUnixNano"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IngestError(
            f"{source}: span {span.get('name', '?')!r} lacks or has an invalid field: {exc}",
            hint="Each span needs name, traceId, spanId, startTimeUnixNano and endTimeUnixNano.",
        ) from None
    status = span.get("status") or {}
    return OtlpSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=decode_id(parent, 8, source) if parent else None,
        name=name,
        start_ns=start_ns,
        end_ns=end_ns,
        attributes=decode_attributes(span.get("attributes", [])),
        resource=resource,
        status_code=status.get("code"),
        status_message=status.get("message"),
    )


def decode_id(value: str, size: int, source: str) -> str:
    """Return a trace or span id of `size` bytes as lower-case hex."""
    if len(value) == 2 * size:
        try:
            bytes.fromhex(value)
            return value.lower()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise IngestError(
            f"{source}: invalid id {value!r}: expected {size} bytes in hex or base64",
            hint="Pass the trace as exported by an OTLP exporter.",
        )
    return raw.hex()


def decode_attributes(attributes: list[dict[str, Any]]) -> dict[str, AttributeValue]:
    """Return OTLP key-value attributes as a plain dict."""
    return {item["key"]: decode_value(item.get("value", {})) for item in attributes if "key" in item}


def decode_value(value: dict[str, Any]) -> AttributeValue:
    """Return the Python value of an OTLP `AnyValue`. int64 values arrive as strings."""
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [decode_value(item) for item in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return json.dumps(decode_attributes(value["kvlistValue"].get("values", [])), sort_keys=True)
    if "bytesValue" in value:
        return str(value["bytesValue"])
    return None
