"""Heredoc markers (`<<EOF`, `<<-EOF`, `3<<'EOF'`) on an instruction's first line.

BuildKit's parser returns each heredoc's delimiter and body but not whether the
delimiter was quoted or chomped, which decide how the body is expanded and used.
Both are read back from the words of the introducing line: a word matching
`[fd]<<[-]delimiter` is a marker, and the delimiter counts as quoted when quote
removal changes it (`<<"EOF"`, `<<'EOF'`, `<<E"O"F`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cachelab.dockerfile.errors import ExpansionError
from cachelab.dockerfile.lexer import ShellLexer
from cachelab.dockerfile.model import Heredoc

_MARKER = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_NO_VARIABLES: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class HeredocMarker:
    """One `<<` marker as written on the introducing line."""

    name: str
    chomp: bool
    quoted: bool


def find_markers(first_line: str, escape: str) -> list[HeredocMarker]:
    """Return the heredoc markers of `first_line`, in order."""
    raw_lexer = ShellLexer(escape, raw_quotes=True, raw_escapes=True, skip_unset=True)
    try:
        words: Sequence[str] = raw_lexer.process(first_line, _NO_VARIABLES).words
    except ExpansionError:
        # An unbalanced quote elsewhere on the line; plain splitting still finds
        # the markers, which never contain white space.
        words = first_line.split()

    markers: list[HeredocMarker] = []
    for word in words:
        match = _MARKER.match(word)
        if match is None or not match.group(3):
            continue
        delimiter = match.group(3)
        name, quoted = _delimiter_name(delimiter, escape)
        markers.append(HeredocMarker(name=name, chomp=match.group(2) == "-", quoted=quoted))
    return markers


def is_marker(word: str) -> bool:
    """Return True when `word`, as written, introduces a heredoc (`<<EOF`, `<<-EOF`, `3<<EOF`)."""
    match = _MARKER.match(word)
    return match is not None and bool(match.group(3))


def _delimiter_name(delimiter: str, escape: str) -> tuple[str, bool]:
    plain = ShellLexer(escape, skip_unset=True)
    keep_quotes = ShellLexer(escape, raw_quotes=True, skip_unset=True)
    try:
        name = plain.process(delimiter, _NO_VARIABLES).value
        spelled = keep_quotes.process(delimiter, _NO_VARIABLES).value
    except ExpansionError:
        return delimiter, False
    return name, name != spelled


def attach_heredocs(
    first_line: str,
    parsed: Sequence[tuple[str, str, int]],
    escape: str,
) -> tuple[Heredoc, ...]:
    """Combine the parser's heredocs `(name, body, fd)` with the markers' flags.

    Markers pair with parsed heredocs in order. When the counts disagree, each
    heredoc looks up its marker by name, and one without a marker counts as
    unquoted and not chomped.
    """
    markers = find_markers(first_line, escape)
    in_order = len(markers) == len(parsed)
    by_name = {marker.name: marker for marker in markers}

    heredocs: list[Heredoc] = []
    for index, (name, body, file_descriptor) in enumerate(parsed):
        marker = markers[index] if in_order else by_name.get(name)
        heredocs.append(
            Heredoc(
                name=name,
                body=body,
                chomp=marker.chomp if marker else False,
                quoted=marker.quoted if marker else False,
                file_descriptor=file_descriptor,
            )
        )
    return tuple(heredocs)
