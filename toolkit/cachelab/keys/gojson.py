"""Byte-exact output of Go's `encoding/json` `Marshal` for plain values.

The encoder writes no white space and keeps the key order of the `dict` it is
given. Struct field order is the caller's job, and Go sorts map keys byte-wise,
which `sorted_map` does. Strings are escaped like Go 1.22 and later: `"` and
`\\` get a backslash, and `\\b`, `\\f`, `\\n`, `\\r`, `\\t` the short escapes. Other
control characters and the HTML characters `<`, `>`, `&` become `\\u00XX`, U+2028
and U+2029 become `\\u2028` and `\\u2029`, and lone surrogates (Go's invalid
UTF-8) become U+FFFD.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _escape_char(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x20 or char in "<>&":
        return f"\\u{code:04x}"
    if char in "\u2028\u2029":
        return f"\\u{code:04x}"
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return char


def encode_string(text: str) -> str:
    """Return `text` as a Go-encoded JSON string literal, quotes included."""
    if text.isascii() and text.isprintable() and not any(c in text for c in '"\\<>&'):
        return f'"{text}"'
    return '"' + "".join(_escape_char(char) for char in text) + '"'


def sorted_map(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Return `mapping` with keys in Go's map order: byte-wise on their UTF-8 encoding."""
    return {key: mapping[key] for key in sorted(mapping, key=lambda k: k.encode("utf-8", "surrogatepass"))}


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(encode_string(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(encode_string(key))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as Go JSON: {value!r}")


def marshal(value: Any) -> bytes:
    """Encode `value` (dict, list, str, int, bool, None) as Go's `json.Marshal` does."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")
