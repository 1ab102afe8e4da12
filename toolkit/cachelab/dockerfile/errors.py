"""The error family of the Dockerfile layer."""

from __future__ import annotations

from collections.abc import Iterable


class DockerfileError(Exception):
    """A Dockerfile could not be parsed, expanded or turned into a stage graph.

    One type covers syntax errors, unknown instructions and flags, unknown or
    forward `--from` references and missing targets. `path` and `line` locate the
    instruction by the 1-based number of its first physical line. Either may be
    None when the error comes from outside any file, for example from the lexer,
    so the caller adds them with `located`. `hint` is one sentence telling the
    user what to do next.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None,
        line: int | None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.hint = hint

    def __str__(self) -> str:
        if self.path is None and self.line is None:
            return self.message
        location = self.path if self.path is not None else "<string>"
        if self.line is not None:
            location = f"{location}:{self.line}"
        return f"{location}: {self.message}"

    def located(self, path: str | None, line: int | None) -> DockerfileError:
        """Return a copy of this error of the same type with `path` and `line` set.

        A location already present wins, so the innermost raiser decides.
        """
        copy = type(self).__new__(type(self))
        DockerfileError.__init__(
            copy,
            self.message,
            path=self.path if self.path is not None else path,
            line=self.line if self.line is not None else line,
            hint=self.hint,
        )
        return copy


class ExpansionError(DockerfileError):
    """A variable expansion failed: bad substitution, unmatched quote or `${V?msg}`."""

    default_hint = (
        "Close each `${` with `}` and each quote in that instruction, and write `\\$` "
        "for a dollar sign that starts no variable."
    )

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, path=None, line=None, hint=hint if hint is not None else self.default_hint)


def closest_match(word: str, choices: Iterable[str]) -> str | None:
    """Return the choice most similar to `word` (difflib ratio >= 0.6), or None."""
    # Imported here because only error messages call this, so a build that succeeds skips difflib.
    import difflib

    matches = difflib.get_close_matches(word, list(choices), n=1)
    return matches[0] if matches else None
