"""The text form of a cache key part in `InstructionRecorded.key_parts`.

A part is written `KIND:VALUE`, and a file part `file:PATH:VALUE` where PATH is
the source path as the key engine names it. KIND is one of `env-count`, `env`,
`instruction`, `file` and `inferred` (a source stage's key or image digest).
The builder records an `env` part as `env:NAME=sha256:<16 hex digits>`, a
digest of the value, because build arguments may carry secrets.
"""

from __future__ import annotations

from dataclasses import dataclass

FILE_KIND = "file"


@dataclass(frozen=True, slots=True)
class RecordedPart:
    """One key part read back from its text form."""

    kind: str
    value: str
    path: str | None = None


def format_key_part(kind: str, value: str, path: str | None = None) -> str:
    """Return the text form of one key part."""
    if kind == FILE_KIND:
        return f"{kind}:{path or ''}:{value}"
    return f"{kind}:{value}"


def parse_key_part(text: str) -> RecordedPart:
    """Read the text form of one key part; a file value contains no `:`, its path may."""
    kind, _, rest = text.partition(":")
    if kind == FILE_KIND:
        path, _, value = rest.rpartition(":")
        return RecordedPart(kind, value, path)
    return RecordedPart(kind, rest)
