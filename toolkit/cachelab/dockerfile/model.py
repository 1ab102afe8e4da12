"""The instruction model: the typed Dockerfile that the rest of cachelab reads.

Syntax comes from BuildKit's own parser (the `dockerfile` package); this module
holds the typed result. `Instruction.text` is the logical instruction text exactly
as BuildKit's `Node.Original` trimmed of surrounding white space, which is the
string kaniko hashes into cache keys: continuation lines joined (escape character
and the blanks after it removed, the next line's leading white space kept), comment
lines inside a continuation dropped, keyword case and flags as written, no variable
expansion, and no heredoc bodies (only the line that introduces them).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Heredoc:
    """One heredoc attached to an instruction.

    `body` is the raw text exactly as read: every body line with its `\\n`, not
    chomped and not expanded. `chomp` is true for `<<-` (leading tabs stripped when
    the body is used); `quoted` is true when the delimiter was quoted, which turns
    off variable expansion of the body.
    """

    name: str
    body: str
    chomp: bool = False
    quoted: bool = False
    file_descriptor: int = 0

    @property
    def chomped_body(self) -> str:
        """The body with leading tabs removed from each line when `chomp` is set."""
        if not self.chomp:
            return self.body
        return "".join(line.lstrip("\t") for line in self.body.splitlines(keepends=True))


@dataclass(frozen=True, slots=True)
class Mount:
    """One `RUN --mount=...` flag, parsed."""

    type: str  # bind (the default), cache, tmpfs, secret, ssh
    target: str | None = None
    source: str | None = None
    from_: str | None = None
    id: str | None = None
    readonly: bool = False
    options: tuple[tuple[str, str], ...] = ()  # every key=value pair, as written


@dataclass(frozen=True, slots=True)
class Instruction:
    """One logical Dockerfile instruction.

    `kind` is the upper-case keyword (`RUN`, `COPY`, ...); `text` is the raw logical
    text described in the module docstring. `args` are the parser's value words
    (for exec form the JSON array elements); `flags` maps each flag name without
    dashes to the values it was given, in order, as written (unexpanded).
    `trigger` is the inner instruction of an `ONBUILD`.
    """

    kind: str
    text: str
    args: tuple[str, ...]
    start_line: int
    end_line: int
    flags: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exec_form: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    mounts: tuple[Mount, ...] = ()
    trigger: Instruction | None = None

    def flag(self, name: str) -> str | None:
        """Return the last value given for flag `name` (no dashes), or None if absent."""
        for flag_name, values in self.flags:
            if flag_name == name:
                return values[-1] if values else ""
        return None

    def flag_values(self, name: str) -> tuple[str, ...]:
        """Return every value given for flag `name`, in order (for repeatable flags)."""
        found: list[str] = []
        for flag_name, values in self.flags:
            if flag_name == name:
                found.extend(values)
        return tuple(found)

    @property
    def copy_from(self) -> str | None:
        """The raw `--from` of a COPY or ADD, unexpanded, or None."""
        if self.kind not in ("COPY", "ADD"):
            return None
        return self.flag("from")


@dataclass(frozen=True, slots=True)
class Stage:
    """One `FROM` and the instructions up to the next.

    `base` is the FROM image word as written (unexpanded); `name` is the `AS` name
    in lower case (stage names are case-insensitive), or None.
    """

    index: int
    base: str
    name: str | None
    platform: str | None
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A parsed Dockerfile: parser directives, meta ARGs and stages."""

    path: str
    stages: tuple[Stage, ...]
    meta_args: tuple[Instruction, ...] = ()
    directives: tuple[tuple[str, str], ...] = ()
    escape: str = "\\"
    source: str = field(default="", repr=False)
