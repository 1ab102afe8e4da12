"""Go's `path/filepath` behaviour on Unix, where kaniko's keys depend on it.

`clean` is Go's `filepath.Clean` (purely lexical, unlike Python's `normpath`,
which keeps a leading `//`), and `match` is Go's `filepath.Match`: `*` matches
any run of non-`/` characters, `?` one non-`/` character, `[...]` a class with
ranges and `^` for negation, `\\` escapes the next character. A malformed pattern
raises `BadPatternError` even when the name would not have matched, as Go reports
`ErrBadPattern` after checking the rest of the pattern.
"""

from __future__ import annotations


class BadPatternError(ValueError):
    """The pattern is malformed (Go's `filepath.ErrBadPattern`)."""

    def __init__(self, pattern: str) -> None:
        super().__init__(f"syntax error in pattern {pattern!r}")
        self.pattern = pattern


def clean(path: str) -> str:
    """Return the shortest lexically equivalent path, as Go's `filepath.Clean` does."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for element in path.split("/"):
        if element in ("", "."):
            continue
        if element == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(element)
    joined = "/".join(parts)
    if rooted:
        return "/" + joined
    return joined or "."


def _split_chunk(pattern: str) -> tuple[bool, str, str]:
    """Split off leading stars and the chunk up to the next unbracketed `*`."""
    star = False
    while pattern.startswith("*"):
        pattern = pattern[1:]
        star = True
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 1  # the escaped character cannot end the chunk
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "*" and not in_class:
            break
        index += 1
    index = min(index, len(pattern))
    return star, pattern[:index], pattern[index:]


def _class_char(chunk: str, pattern: str) -> tuple[str, str]:
    """Read one possibly escaped character of a `[...]` class; return it and the rest."""
    if not chunk or chunk[0] in "-]":
        raise BadPatternError(pattern)
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise BadPatternError(pattern)
    char, rest = chunk[0], chunk[1:]
    if not rest:
        raise BadPatternError(pattern)
    return char, rest


def _match_chunk(chunk: str, name: str, pattern: str) -> str | None:
    """Match `chunk` (no `*`) at the start of `name`; return the rest of `name` or None.

    After a mismatch the chunk is still read to the end so that syntax errors
    are reported regardless of the name.
    """
    failed = False
    while chunk:
        if not failed and not name:
            failed = True
        head = chunk[0]
        if head == "[":
            char = ""
            if not failed:
                char, name = name[0], name[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched = False
            ranges = 0
            while True:
                if chunk.startswith("]") and ranges > 0:
                    chunk = chunk[1:]
                    break
                low, chunk = _class_char(chunk, pattern)
                high = low
                if chunk[0] == "-":
                    high, chunk = _class_char(chunk[1:], pattern)
                if low <= char <= high and char:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
        elif head == "?":
            if not failed:
                if name[0] == "/":
                    failed = True
                name = name[1:]
            chunk = chunk[1:]
        else:
            if head == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise BadPatternError(pattern)
            if not failed:
                if chunk[0] != name[0]:
                    failed = True
                name = name[1:]
            chunk = chunk[1:]
    return None if failed else name


def match(pattern: str, name: str) -> bool:
    """Report whether `name` matches the shell pattern, as Go's `filepath.Match` does.

    Raises `BadPatternError` for a malformed pattern.
    """
    rest = pattern
    while rest:
        star, chunk, rest = _split_chunk(rest)
        if star and not chunk:
            # A trailing star matches the rest of the name unless it holds a `/`.
            return "/" not in name
        remainder = _match_chunk(chunk, name, pattern)
        if remainder is not None and (not remainder or rest):
            name = remainder
            continue
        if star:
            found = False
            for skip in range(len(name)):
                if name[skip] == "/":
                    break
                remainder = _match_chunk(chunk, name[skip + 1:], pattern)
                if remainder is not None:
                    if not rest and remainder:
                        continue
                    name = remainder
                    found = True
                    break
            if found:
                continue
        # No match: still validate what is left of the pattern.
        while rest:
            _, chunk, rest = _split_chunk(rest)
            _match_chunk(chunk, "", pattern)
        return False
    return not name


def has_glob(pattern: str) -> bool:
    """Report whether `pattern` contains a wildcard character (`*`, `?` or `[`)."""
    return any(char in pattern for char in "*?[")
