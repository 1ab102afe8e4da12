"""`.dockerignore` reading and matching with the semantics kaniko's keys depend on.

kaniko (osscontainertools fork, commit 6bcc934) reads `<Dockerfile>.dockerignore`
if it exists, else `<context>/.dockerignore`, and matches with moby's
patternmatcher through its older `Matches` method. That method differs from the
documented Docker behaviour in one way that changes keys: besides the path itself
it tests only the one parent directory that has as many components as the pattern.
So `a/b` excludes `a/b/c/d`, but `*` excludes `x/y` only through its first
component `x`. Patterns are applied in order and the last one that matches wins;
`!` patterns re-include.

Pattern syntax: `*` any run of non-`/` characters, `?` one non-`/` character,
`[...]` a character class, `**` any number of directories (including none),
`\\` escapes the next character. Lines starting with `#` are comments; leading
and trailing white space, a leading `/` and `./` are removed and the pattern is
cleaned like Go's `filepath.Clean`.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from cachelab.keys import gopath
from cachelab.keys.errors import DockerignoreError

logger = logging.getLogger(__name__)

# Go's unicode.IsSpace for the characters that strings.TrimSpace removes.
_GO_SPACE = "\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

# Regular-expression metacharacters that have no meaning in a path pattern and are
# therefore matched literally.
_LITERAL_SPECIALS = ".+()|{}$"


def go_trim_space(text: str) -> str:
    """Strip white space as Go's `strings.TrimSpace` does (not Python's wider set)."""
    return text.strip(_GO_SPACE)


def read_patterns(text: str) -> list[str]:
    """Turn `.dockerignore` text into cleaned patterns, one per non-comment line.

    A UTF-8 byte-order mark on the first line is dropped; a line whose first
    character is `#` is a comment (white space before `#` makes it a pattern).
    """
    patterns: list[str] = []
    for number, line in enumerate(text.split("\n")):
        line = line.removesuffix("\r")
        if number == 0 and line.startswith("\ufeff"):
            line = line[1:]
        if line.startswith("#"):
            continue
        line = go_trim_space(line)
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = go_trim_space(line[1:])
        if line:
            line = gopath.clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append("!" + line if invert else line)
    return patterns


class MatchType(Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    REGEXP = "regexp"


@dataclass
class Pattern:
    """One compiled ignore pattern."""

    text: str  # cleaned, without the `!`
    exclusion: bool
    dirs: list[str] = field(init=False)
    match_type: MatchType | None = field(init=False, default=None)
    regexp: re.Pattern[str] | None = field(init=False, default=None, repr=False)
    compile_error: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.dirs = self.text.split("/")

    def matches(self, path: str) -> bool:
        """Report whether `path` matches; raises `re.error` if the pattern cannot compile."""
        if self.match_type is None:
            self._compile()
        if self.compile_error is not None:
            raise re.error(self.compile_error)
        if self.match_type is MatchType.EXACT:
            return path == self.text
        if self.match_type is MatchType.PREFIX:
            return path.startswith(self.text[:-2])
        if self.match_type is MatchType.SUFFIX:
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            # `**/foo` also matches a top-level `foo`.
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regexp is not None
        return self.regexp.match(path) is not None

    def _compile(self) -> None:
        expression, match_type = _translate(self.text)
        self.match_type = match_type
        if match_type is not MatchType.REGEXP:
            return
        try:
            with warnings.catch_warnings():
                # Python warns about `[[` as a possible nested set; Go has none.
                warnings.simplefilter("ignore", FutureWarning)
                self.regexp = re.compile(expression)
        except re.error as exc:
            self.compile_error = f"invalid pattern {self.text!r}: {exc}"


def _translate(pattern: str) -> tuple[str, MatchType]:
    """Translate a cleaned pattern to an anchored regular expression and its match type."""
    out = ["^"]
    kind = MatchType.EXACT
    index = 0
    step = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            if index < len(pattern) and pattern[index] == "*":
                index += 1
                if index < len(pattern) and pattern[index] == "/":
                    index += 1
                if index == len(pattern):
                    # A trailing `**` accepts everything below, as in .gitignore.
                    if kind is MatchType.EXACT:
                        kind = MatchType.PREFIX
                    else:
                        out.append(".*")
                        kind = MatchType.REGEXP
                else:
                    out.append("(.*/)?")
                    kind = MatchType.REGEXP
                if step == 0:
                    kind = MatchType.SUFFIX
            else:
                out.append("[^/]*")
                kind = MatchType.REGEXP
        elif char == "?":
            out.append("[^/]")
            kind = MatchType.REGEXP
        elif char in _LITERAL_SPECIALS:
            out.append("\\" + char)
        elif char == "\\":
            if index < len(pattern):
                escaped = pattern[index]
                index += 1
                out.append("\\" + escaped if escaped.isalnum() else re.escape(escaped))
                kind = MatchType.REGEXP
            else:
                out.append("\\\\")
        elif char in "[]":
            out.append(char)
            kind = MatchType.REGEXP
        else:
            out.append(char)
        step += 1
    # `\Z`, not `$`: Python's `$` also matches before a final newline.
    out.append(r"\Z")
    return "".join(out), kind


class PatternMatcher:
    """An ordered list of ignore patterns, matched the way kaniko does."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[Pattern] = []
        for raw in patterns:
            text = go_trim_space(raw)
            if not text:
                continue
            text = gopath.clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise ValueError('illegal exclusion pattern: "!"')
                text = text[1:]
            try:
                gopath.match(text, ".")
            except gopath.BadPatternError as exc:
                raise ValueError(str(exc)) from exc
            self.patterns.append(Pattern(text, exclusion))

    @property
    def has_exclusions(self) -> bool:
        return any(pattern.exclusion for pattern in self.patterns)

    def matches(self, path: str) -> bool:
        """Report whether the cleaned, slash-separated `path` is ignored.

        Raises `re.error` when a pattern turns out not to compile.
        """
        parent = _go_dir(path)
        parent_dirs = parent.split("/")
        matched = False
        for pattern in self.patterns:
            # An inclusion cannot change an already excluded path, and a `!`
            # pattern cannot change a path that is not excluded.
            if pattern.exclusion != matched:
                continue
            hit = pattern.matches(path)
            if not hit and parent != "." and len(pattern.dirs) <= len(parent_dirs):
                try:
                    hit = pattern.matches("/".join(parent_dirs[: len(pattern.dirs)]))
                except re.error:
                    hit = False
            if hit:
                matched = not pattern.exclusion
        return matched


def _go_dir(path: str) -> str:
    """Go's `filepath.Dir`: everything before the last `/`, cleaned."""
    slash = path.rfind("/")
    return gopath.clean(path[: slash + 1])


@dataclass
class DockerIgnore:
    """The patterns of one `.dockerignore` file (or none)."""

    patterns: list[str] = field(default_factory=list)
    source: str | None = None  # the file the patterns came from
    _matcher: PatternMatcher | None = field(default=None, init=False, repr=False)
    _error: str | None = field(default=None, init=False, repr=False)
    _error_logged: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self._matcher = PatternMatcher(self.patterns)
        except ValueError as exc:
            self._error = str(exc)

    @classmethod
    def from_text(cls, text: str, source: str | None = None) -> DockerIgnore:
        return cls(read_patterns(text), source)

    @classmethod
    def find(cls, dockerfile: str | os.PathLike[str], context: str | os.PathLike[str]) -> DockerIgnore:
        """Read `<dockerfile>.dockerignore`, else `<context>/.dockerignore`, else no patterns."""
        for candidate in (f"{os.fspath(dockerfile)}.dockerignore",
                          os.path.join(os.fspath(context), ".dockerignore")):
            if os.path.lexists(candidate):
                try:
                    with open(candidate, encoding="utf-8", errors="surrogateescape") as stream:
                        text = stream.read()
                except OSError as exc:
                    raise DockerignoreError(candidate, "", exc.strerror or str(exc)) from exc
                logger.info("using dockerignore file %s", candidate)
                return cls.from_text(text, candidate)
        return cls()

    @property
    def error(self) -> str | None:
        """Why the patterns cannot be compiled, or None when they can."""
        return self._error

    def check(self) -> None:
        """Raise `DockerignoreError` if a pattern is invalid (kaniko's precompiled mode)."""
        if self._error is not None:
            raise DockerignoreError(self.source or ".dockerignore", "", self._error)

    def excludes(self, path: str) -> bool:
        """Report whether `path` (context-relative, or absolute outside the context) is ignored.

        Like kaniko, an invalid pattern makes every path included: the error is
        logged, not raised (call `check` to raise instead).
        """
        path = gopath.clean(path)
        if path == ".":
            return False
        if self._matcher is None:
            self._log_error(path, self._error or "")
            return False
        try:
            return self._matcher.matches(path)
        except re.error as exc:
            self._log_error(path, str(exc))
            return False

    def _log_error(self, path: str, reason: str) -> None:
        if not self._error_logged:
            logger.error("error matching %s against %s, including it: %s",
                         path, self.source or ".dockerignore", reason)
            self._error_logged = True


@dataclass
class FileContext:
    """The main build context as cache-key hashing uses it: root and ignore patterns.

    With `scoped` (`FF_KANIKO_SCOPED_DOCKERIGNORE`) absolute paths outside the
    root are never excluded; without it they are matched as written, so an
    allow-list such as `*` then `!keep` excludes `/kaniko/deps/...` sources.
    """

    root: str
    ignore: DockerIgnore = field(default_factory=DockerIgnore)
    scoped: bool = False

    @classmethod
    def from_dockerfile(
        cls,
        dockerfile: str | os.PathLike[str],
        context: str | os.PathLike[str],
        *,
        scoped: bool = False,
        precompile: bool = False,
    ) -> FileContext:
        """Build the context of a build; with `precompile` an invalid pattern raises."""
        ignore = DockerIgnore.find(dockerfile, context)
        if precompile:
            ignore.check()
        return cls(os.path.abspath(os.fspath(context)), ignore, scoped)

    def excludes_file(self, path: str) -> bool:
        """Report whether `.dockerignore` removes `path` (the path kaniko uses) from keys."""
        if has_path_prefix(path, self.root):
            path = os.path.relpath(gopath.clean(path), gopath.clean(self.root))
        elif path.startswith("/") and self.scoped:
            return False
        return self.ignore.excludes(path)


def has_path_prefix(path: str, prefix: str) -> bool:
    """Report whether `prefix`'s components match `path`'s leading components.

    Each prefix component is used as a `filepath.Match` pattern, as kaniko's
    `HasFilepathPrefix` does; an invalid pattern never matches.
    """
    prefix_parts = gopath.clean(prefix).split("/")
    path_parts = gopath.clean(path).split("/", len(prefix_parts))
    if len(path_parts) < len(prefix_parts):
        return False
    for pattern, component in zip(prefix_parts, path_parts):
        try:
            if not gopath.match(pattern, component):
                return False
        except gopath.BadPatternError:
            return False
    return True

