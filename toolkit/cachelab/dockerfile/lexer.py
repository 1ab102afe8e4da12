"""Dockerfile variable expansion, after BuildKit's shell lexer (`frontend/dockerfile/shell`).

The lexer imitates the small part of POSIX shell word expansion that Dockerfile
instructions use, not a shell:

* `$NAME` and `${NAME}`; a name is letters, digits and `_`, or a run of digits, or
  one special parameter (`@ * # ? - $ ! 0`). `$` followed by anything else is a
  literal `$`. Special parameters are looked up like any name, so `$$` expands to
  the value of a variable called `$` (normally unset, so to nothing).
* Modifiers: `${NAME:-word}` / `${NAME-word}` (default), `${NAME:+word}` /
  `${NAME+word}` (alternative) and `${NAME:?msg}` / `${NAME?msg}` (error when
  unset, or empty with `:`). Patterns: `${NAME#pat}` / `${NAME##pat}` and
  `${NAME%pat}` / `${NAME%%pat}` remove the shortest or longest prefix or suffix,
  and `${NAME/pat/rep}` / `${NAME//pat/rep}` replace the first or every match. Patterns know `*`, `?` and backslash escapes,
  no bracket expressions. `word` is expanded recursively.
* Single quotes keep everything literal; double quotes allow `$` expansion and
  let the escape character protect `"`, `$` and itself only.
* The escape character (backslash, or backtick under `# escape=\\``) outside
  quotes makes the next character literal; a trailing one is dropped.
* No command substitution, arithmetic, globbing or tilde expansion.

Three switches give kaniko's cache-key mode (`resolve_variables`): raw quotes
(quote characters stay in the output), raw escapes (escape characters stay) and
skip-unset (a reference to an unset variable stays as written).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cachelab.dockerfile.errors import ExpansionError

_SPECIAL_PARAMETERS = frozenset("@*#?-$!0")
_SPECIAL = re.compile(r"[$'\"]")
_MODIFIERS = "+-?#%"


@dataclass(frozen=True, slots=True)
class Expansion:
    """The result of expanding one word.

    `value` keeps the white space between words (BuildKit's ProcessWord); `words`
    is the same text split into fields outside quotes, with variable values split
    too (ProcessWords). `matched` and `unmatched` name the variables that were set
    or unset when referenced.
    """

    value: str
    words: tuple[str, ...]
    matched: frozenset[str]
    unmatched: frozenset[str]


class _FieldSplitter:
    """Collects fields: unquoted white space ends a field, quoted text never does."""

    __slots__ = ("current", "fields", "in_field")

    def __init__(self) -> None:
        self.fields: list[str] = []
        self.current: list[str] = []
        self.in_field = False

    def add_char(self, char: str) -> None:
        if not char.isspace():
            self.add_raw(char)
        elif self.in_field and self.current:
            self.fields.append("".join(self.current))
            self.current = []
            self.in_field = False

    def add_raw(self, text: str) -> None:
        # Empty quotes start a field but add no text, so `"" b` is one field.
        if text:
            self.current.append(text)
        self.in_field = True

    def add_split(self, text: str) -> None:
        for char in text:
            self.add_char(char)

    def finish(self) -> list[str]:
        if self.current:
            self.fields.append("".join(self.current))
            self.current = []
            self.in_field = False
        return self.fields


class _NoFields(_FieldSplitter):
    """A splitter that keeps nothing, for callers that only need the value."""

    __slots__ = ()

    def add_char(self, char: str) -> None:
        pass

    def add_raw(self, text: str) -> None:
        pass

    def add_split(self, text: str) -> None:
        pass


class ShellLexer:
    """A configured expander; see the module docstring for the grammar.

    An instance is not safe to share between threads while `process` runs.
    """

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset: bool = False,
    ) -> None:
        if escape not in ("\\", "`"):
            raise ValueError(f"invalid escape character {escape!r}: expected '\\' or '`'")
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset

    def process(self, word: str, env: Mapping[str, str], *, split_fields: bool = True) -> Expansion:
        """Expand `word` against `env`; raise ExpansionError on bad syntax.

        With `split_fields` false, `words` is left empty, which saves time.
        """
        if not _SPECIAL.search(word) and self.escape not in word:
            # Nothing to expand or remove: the common case of a plain word.
            words = tuple(word.split()) if split_fields else ()
            return Expansion(word, words, frozenset(), frozenset())
        state = _State(self, word, env, split_fields)
        try:
            value, fields = state.process_until(None, self.raw_escapes)
        except ExpansionError as exc:
            raise ExpansionError(f'failed to process "{word}": {exc.message}', hint=exc.hint) from None
        return Expansion(
            value=value,
            words=tuple(fields),
            matched=frozenset(state.matched),
            unmatched=frozenset(state.unmatched),
        )


class _State:
    """The cursor over one word being expanded."""

    def __init__(
        self, lexer: ShellLexer, text: str, env: Mapping[str, str], split_fields: bool
    ) -> None:
        self.lexer = lexer
        self.split_fields = split_fields
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lexer.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def lookup(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None:
            self.unmatched.add(name)
        else:
            self.matched.add(name)
        return value

    def process_until(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        """Expand up to and including `stop` (or the end when None).

        `raw_escapes` applies to this run and every quote inside it, then the
        previous setting comes back, as BuildKit does for `${...}` words.
        """
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._process_until(stop)
        finally:
            self.raw_escapes = saved

    def _process_until(self, stop: str | None) -> tuple[str, list[str]]:
        text = self.text
        escape = self.lexer.escape
        result: list[str] = []
        fields = _FieldSplitter() if self.split_fields else _NoFields()

        while self.pos < len(text):
            char = text[self.pos]
            if stop is not None and char == stop:
                self.pos += 1
                return "".join(result), fields.finish()

            if char == "$":
                value = self.dollar()
                result.append(value)
                fields.add_split(value)
                continue
            if char == "'":
                value = self.single_quote()
                result.append(value)
                fields.add_raw(value)
                continue
            if char == '"':
                value = self.double_quote()
                result.append(value)
                fields.add_raw(value)
                continue

            self.pos += 1
            if char == escape:
                if self.raw_escapes:
                    fields.add_raw(char)
                    result.append(char)
                if self.pos >= len(text):
                    break
                char = text[self.pos]
                self.pos += 1
                fields.add_raw(char)
            else:
                fields.add_char(char)
            result.append(char)

        if stop is not None:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), fields.finish()

    def single_quote(self) -> str:
        start = self.pos
        end = self.text.find("'", start + 1)
        if end < 0:
            raise ExpansionError(
                "unexpected end of statement while looking for matching single-quote"
            )
        self.pos = end + 1
        if self.lexer.raw_quotes:
            return self.text[start : end + 1]
        return self.text[start + 1 : end]

    def double_quote(self) -> str:
        text = self.text
        escape = self.lexer.escape
        out: list[str] = []
        if self.lexer.raw_quotes:
            out.append('"')
        self.pos += 1

        while True:
            if self.pos >= len(text):
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                if self.lexer.raw_quotes:
                    out.append('"')
                return "".join(out)
            if char == "$":
                out.append(self.dollar())
                continue

            self.pos += 1
            if char == escape:
                if self.raw_escapes:
                    out.append(char)
                following = self.peek()
                if following is None:
                    continue
                if following in ('"', "$", escape):
                    char = following
                    self.pos += 1
                # NOTE: with raw escapes an escape character before any other
                # character is written twice; BuildKit's lexer does the same, and
                # kaniko's resolved cache keys inherit it.
            out.append(char)

    def name(self) -> str:
        text = self.text
        start = self.pos
        if start >= len(text):
            return ""
        first = text[start]
        if first.isdigit():
            end = start
            while end < len(text) and text[end].isdigit():
                end += 1
            self.pos = end
            return text[start:end]
        if first in _SPECIAL_PARAMETERS:
            self.pos += 1
            return first
        end = start
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        self.pos = end
        return text[start:end]

    def dollar(self) -> str:
        self.pos += 1
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value = self.lookup(name)
            if value is None:
                return "$" + name if self.lexer.skip_unset else ""
            return value

        self.pos += 1
        following = self.peek()
        if following is None:
            raise ExpansionError("syntax error: missing '}'")
        if following in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        modifier = self.peek()
        if modifier is None:
            raise ExpansionError("syntax error: missing '}'")
        self.pos += 1

        if modifier == "}":
            value = self.lookup(name)
            if value is None:
                return "${" + name + "}" if self.lexer.skip_unset else ""
            return value
        if modifier == "/":
            return self.substitute(name)
        if modifier == ":":
            operator = self.peek()
            if operator is None:
                raise ExpansionError("syntax error: missing '}'")
            self.pos += 1
            return self.modify(name, operator, null_is_unset=True)
        if modifier in _MODIFIERS:
            return self.modify(name, modifier, null_is_unset=False)
        raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")

    def braced_word(self, stop: str, raw_escapes: bool, missing: str) -> str:
        try:
            word, _ = self.process_until(stop, raw_escapes)
        except ExpansionError:
            if self.pos >= len(self.text):
                raise ExpansionError(f"syntax error: missing '{missing}'") from None
            raise
        return word

    def modify(self, name: str, operator: str, *, null_is_unset: bool) -> str:
        # Prefix and suffix patterns keep their escapes so `\*` stays a literal star.
        word = self.braced_word("}", operator in "#%", "}")
        value = self.lookup(name)
        spelled = (":" if null_is_unset else "") + operator
        if value is None and self.lexer.skip_unset:
            return "${" + name + spelled + word + "}"

        empty = value is None or (null_is_unset and value == "")
        if operator == "-":
            return word if empty else value or ""
        if operator == "+":
            return "" if empty else word
        if operator == "?":
            hint = f"Give {name} a value with --build-arg {name}=VALUE or an earlier ARG or ENV."
            if value is None:
                raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}", hint=hint)
            if null_is_unset and value == "":
                raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}", hint=hint)
            return value
        if operator in "#%":
            greedy = word.startswith(operator)
            if greedy:
                word = word[1:]
            if operator == "#":
                return _trim_prefix(word, value or "", greedy)
            return _trim_suffix(word, value or "", greedy)
        raise ExpansionError(f"unsupported modifier ({spelled}) in substitution")

    def substitute(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.pos += 1
        pattern = self.braced_word("/", True, "/' in ${}")
        replacement = self.braced_word("}", True, "}")
        value = self.lookup(name)
        if value is None and self.lexer.skip_unset:
            # NOTE: BuildKit writes an unset `${V//p/r}` back with a single slash,
            # and kaniko's resolved keys contain that spelling, so it is kept.
            return "${" + name + "/" + pattern + "/" + replacement + "}"

        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        value = value or ""
        # NOTE: the replacement is inserted literally; Go's ReplaceAllString would
        # expand `$1`-style references in it, which have no groups to refer to.
        if replace_all:
            return regex.sub(lambda _match: replacement, value)
        found = regex.search(value)
        if found is None:
            return value
        return value[: found.start()] + replacement + value[found.end() :]


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """Translate a shell pattern (`*`, `?`, backslash escapes) into a regex."""
    parts: list[str] = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            parts.append(star)
        elif char == "?":
            parts.append(".")
        elif char == "\\":
            following = pattern[index] if index < len(pattern) else ""
            if following in ("}", "/"):
                # `\}` and `\/` only protect the character from ending the ${...}.
                continue
            if following not in ("*", "?", "\\"):
                raise ExpansionError(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{following}'"
                )
            parts.append(re.escape(following))
            index += 1
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    found = _pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[found.end() :] if found else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern while keeping each backslash before the character it escapes."""
    tokens: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern[index] == "\\" and index + 1 < len(pattern):
            tokens.append(pattern[index : index + 2])
            index += 2
        else:
            tokens.append(pattern[index])
            index += 1
    return "".join(reversed(tokens))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A shortest rightmost match is a shortest leftmost match of the reversed texts.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def expand(word: str, env: Mapping[str, str], *, escape: str = "\\") -> Expansion:
    """Expand `word` like BuildKit, returning the value, the fields and the names seen."""
    return ShellLexer(escape).process(word, env)


def expand_word(word: str, env: Mapping[str, str], *, escape: str = "\\") -> str:
    """Expand `word` with quote removal, keeping inner white space (BuildKit's ProcessWord)."""
    if _is_literal(word, escape):
        return word
    return ShellLexer(escape).process(word, env, split_fields=False).value


def _is_literal(text: str, escape: str) -> bool:
    # Without variables, quotes or escapes the lexer returns the text unchanged,
    # and most words in real Dockerfiles have none. Other escape characters are
    # left to the lexer, which rejects them.
    return (
        escape in ("\\", "`") and "$" not in text and "'" not in text and '"' not in text
        and escape not in text
    )


def expand_words(word: str, env: Mapping[str, str], *, escape: str = "\\") -> list[str]:
    """Expand `word` and split it into fields (BuildKit's ProcessWords)."""
    return list(ShellLexer(escape).process(word, env).words)


def resolve_variables(text: str, env: Mapping[str, str], *, escape: str = "\\") -> str:
    """Substitute set variables in `text` the way kaniko resolves cache-key text.

    Quotes and escape characters stay as written, and a reference to an unset
    variable stays verbatim, so only `$NAME` / `${NAME...}` of set variables change.
    """
    if _is_literal(text, escape):
        return text
    lexer = ShellLexer(escape, raw_quotes=True, raw_escapes=True, skip_unset=True)
    return lexer.process(text, env, split_fields=False).value
