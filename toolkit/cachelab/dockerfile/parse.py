"""Turn Dockerfile text into the instruction model.

Syntax (line continuations, comments, heredoc bodies, JSON arrays, flag words)
comes from BuildKit's own parser through the `dockerfile` package. This module
adds parser directives, typed flags and mounts, heredoc quoting, ONBUILD
triggers, meta ARGs and stages, and raises errors that carry the file and line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import dockerfile as buildkit_parser
from cachelab.dockerfile.arguments import check_arguments, ignores_flags
from cachelab.dockerfile.errors import DockerfileError, closest_match
from cachelab.dockerfile.flags import parse_flags, parse_mount
from cachelab.dockerfile.model import Dockerfile, Heredoc, Instruction, Mount, Stage

logger = logging.getLogger(__name__)

INSTRUCTIONS = frozenset(
    (
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    )
)
# BuildKit rejects these as ONBUILD triggers.
_FORBIDDEN_TRIGGERS = frozenset(("ONBUILD", "FROM", "MAINTAINER"))
_KNOWN_DIRECTIVES = frozenset(("syntax", "escape", "check"))
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")
_KEYWORD = re.compile(r"^\s*\S+\s*")
_NO_INSTRUCTIONS = "file with no instructions"
_UNTERMINATED_HEREDOC = "unterminated heredoc"
# The delimiter word of a heredoc (`<<EOF`, `<<-"EOF"`), which must end its body on a line of its own.
_HEREDOC_START = re.compile(r"<<(-?)\s*([\"']?)([^\s\"'<>|&;]+)\2")
# BuildKit rejects these as ONBUILD triggers. Each hint gives what to write instead.
_FORBIDDEN_TRIGGER_HINTS = {
    "ONBUILD": "Triggers do not nest. "
    "Write `ONBUILD <instruction>` in the Dockerfile of the image built FROM this one.",
    "FROM": "A trigger runs inside the child image's stage and cannot start a stage. "
    "Write the FROM line in the child image's Dockerfile.",
    "MAINTAINER": "MAINTAINER is deprecated. Write `ONBUILD LABEL maintainer=NAME` instead.",
}


def load_dockerfile(path: str | PathLike[str]) -> Dockerfile:
    """Read and parse the Dockerfile at `path` (UTF-8, a leading BOM ignored).

    OSError from reading passes through; undecodable bytes raise DockerfileError.
    """
    name = str(path)
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DockerfileError(
            f"not valid UTF-8 at byte offset {exc.start}",
            path=name,
            line=data.count(b"\n", 0, exc.start) + 1,
            hint="Save the Dockerfile as UTF-8.",
        ) from None
    return parse_dockerfile(text, name)


def parse_dockerfile(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile `text`; `path` only names the file in errors and the result."""
    text = text.removeprefix("\ufeff")
    directives = read_directives(text, path)
    escape = dict(directives).get("escape", "\\")
    commands = _run_parser(text, path)

    meta_args: list[Instruction] = []
    stages: list[Stage] = []
    current: tuple[Instruction, list[Instruction]] | None = None

    for command in commands:
        instruction = _instruction(command, escape, path, text)
        if instruction.kind == "FROM":
            if current is not None:
                stages.append(_stage(len(stages), *current, path=path))
            current = (instruction, [])
        elif current is not None:
            current[1].append(instruction)
        elif instruction.kind == "ARG":
            meta_args.append(instruction)
        else:
            raise DockerfileError(
                f"{instruction.kind} comes before the first FROM",
                path=path,
                line=instruction.start_line,
                hint="Start the Dockerfile with FROM, because only ARG may come before it.",
            )

    if current is None:
        raise DockerfileError(
            "no FROM instruction",
            path=path,
            line=None,
            hint="Add a FROM line naming the base image, or `FROM scratch`.",
        )
    stages.append(_stage(len(stages), *current, path=path))

    return Dockerfile(
        path=path,
        stages=tuple(stages),
        meta_args=tuple(meta_args),
        directives=directives,
        escape=escape,
        source=text,
    )


def read_directives(text: str, path: str) -> tuple[tuple[str, str], ...]:
    """Read the parser directives (`# syntax=`, `# escape=`, `# check=`) at the top.

    Directives end at the first line that is not one; an unknown directive name
    counts as a plain comment and ends them too. Names are case-insensitive.
    """
    directives: list[tuple[str, str]] = []
    # Each known name may appear once, so a line past the first four is never one.
    top_lines = text.split("\n", len(_KNOWN_DIRECTIVES) + 1)[: len(_KNOWN_DIRECTIVES) + 1]
    for number, line in enumerate(top_lines, 1):
        match = _DIRECTIVE.match(line.strip())
        if match is None:
            break
        name = match.group(1).lower()
        if name not in _KNOWN_DIRECTIVES:
            break
        if any(seen == name for seen, _ in directives):
            raise DockerfileError(
                f"only one {name} parser directive can be used",
                path=path,
                line=number,
                hint=f"Remove the repeated `# {name}=` line.",
            )
        value = match.group(2)
        if name == "escape" and value not in ("\\", "`"):
            raise DockerfileError(
                f"invalid escape character {value!r} in parser directive",
                path=path,
                line=number,
                hint="Use `# escape=\\` or `# escape=``.",
            )
        directives.append((name, value))
    return tuple(directives)


def _run_parser(text: str, path: str) -> Sequence[buildkit_parser.Command]:
    try:
        return buildkit_parser.parse_string(text)
    except buildkit_parser.GoParseError as exc:
        message = str(exc)
        if message == _NO_INSTRUCTIONS:
            raise DockerfileError(
                "no instructions", path=path, line=None, hint="Add a FROM line naming the base image, or `FROM scratch`."
            ) from None
        line = _locate_parse_error(text)
        hint = _heredoc_hint(text, line) if message == _UNTERMINATED_HEREDOC else None
        raise DockerfileError(message, path=path, line=line, hint=hint) from None
    except UnicodeDecodeError:
        raise _undecodable_flag(path, _locate_parse_error(text)) from None


def _heredoc_hint(text: str, line: int) -> str:
    """Return the hint for an unterminated heredoc that starts on `line`, naming its delimiter when found."""
    lines = text.splitlines()
    found = _HEREDOC_START.search(lines[line - 1]) if 0 < line <= len(lines) else None
    if found is None:
        return "End each heredoc with a line that contains only its delimiter, such as EOF for <<EOF."
    dash, _, delimiter = found.groups()
    indent = ", optionally indented with tabs because of <<-" if dash else ""
    return f"End the heredoc with a line that contains only {delimiter}{indent}."


def _undecodable_flag(path: str, line: int) -> DockerfileError:
    # The `dockerfile` package (3.4.0) fails to decode some non-ASCII flag words,
    # for example ones with characters of the supplementary private use planes.
    return DockerfileError(
        "the parser could not decode a flag with non-ASCII characters",
        path=path,
        line=line,
        hint="Write flag names and values in ASCII.",
    )


def _decoded_flags(flags: Sequence[str]) -> tuple[str, ...]:
    """Return the flag words with the `dockerfile` package's mis-decoding undone.

    The package (3.4.0) decodes flag words as Latin-1 although the Go parser
    returns UTF-8, so `--chown=é` arrives as `--chown=Ã©`. Words that are not
    such mojibake stay as they are.
    """
    decoded = []
    for flag in flags:
        if flag.isascii():
            decoded.append(flag)
            continue
        try:
            decoded.append(flag.encode("latin-1").decode("utf-8"))
        except (UnicodeEncodeError, UnicodeDecodeError):
            decoded.append(flag)
    return tuple(decoded)


def _locate_parse_error(text: str) -> int:
    """Return the line where the instruction that fails to parse starts.

    The Go parser reports no line. Every prefix that ends at or after the bad
    instruction fails as well, so the bad instruction starts one line past the
    longest prefix that parses. Scanning down from the end costs one parse per line after the error,
    paid only for files that fail.
    """
    lines = text.splitlines(keepends=True)
    for count in range(len(lines) - 1, 0, -1):
        try:
            buildkit_parser.parse_string("".join(lines[:count]))
        except (buildkit_parser.GoParseError, UnicodeDecodeError) as exc:
            if str(exc) != _NO_INSTRUCTIONS:
                continue
        return count + 1
    return 1


def _instruction(
    command: buildkit_parser.Command, escape: str, path: str, text: str
) -> Instruction:
    line = command.start_line
    if not command.cmd:
        # The Go parser returns a command without a name for a lone line continuation.
        raise DockerfileError(
            "empty instruction: a line continuation is followed by nothing",
            path=path,
            line=line,
            hint="Remove the trailing escape character, or put an instruction after it.",
        )
    kind = command.cmd.upper()
    if kind not in INSTRUCTIONS:
        raise _unknown_instruction(command.cmd, path=path, line=line)

    original = command.original
    flags: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Flags that BuildKit never reads are accepted and dropped, as it does.
    if command.flags and not ignores_flags(kind, tuple(command.value)):
        flags = parse_flags(kind, _decoded_flags(command.flags), path=path, line=line)
    mounts: tuple[Mount, ...] = ()
    if kind == "RUN" and flags:
        mounts = tuple(
            parse_mount(value, path=path, line=line)
            for name, values in flags
            if name == "mount"
            for value in values
        )

    heredocs: tuple[Heredoc, ...] = ()
    instruction_text = original.strip()
    if command.heredocs:
        from cachelab.dockerfile.heredocs import attach_heredocs

        first_line = original.split("\n", 1)[0]
        instruction_text = first_line.strip()
        parsed = [(doc.name, doc.content, doc.file_descriptor) for doc in command.heredocs]
        heredocs = attach_heredocs(first_line, parsed, escape)

    trigger = None
    if kind == "ONBUILD":
        trigger = _trigger(command, escape, path, text)

    instruction = Instruction(
        kind=kind,
        text=instruction_text,
        args=tuple(command.value),
        start_line=line,
        end_line=command.end_line,
        flags=flags,
        exec_form=command.json,
        heredocs=heredocs,
        mounts=mounts,
        trigger=trigger,
    )
    check_arguments(instruction, path)
    return instruction


def _unknown_instruction(word: str, *, path: str, line: int) -> DockerfileError:
    suggestion = closest_match(word.upper(), INSTRUCTIONS)
    if suggestion:
        hint = f"Write {suggestion} if that is the instruction you meant."
    else:
        hint = (
            "Start the line with a Dockerfile instruction such as RUN or COPY, or end the "
            "line before it with a backslash if it continues that instruction."
        )
    return DockerfileError(f"unknown instruction: {word}", path=path, line=line, hint=hint)


def _trigger(command: buildkit_parser.Command, escape: str, path: str, text: str) -> Instruction:
    """Parse the instruction after the `ONBUILD` keyword.

    NOTE: BuildKit checks a trigger's flags and arguments only when a child
    build runs it, but this parser checks them here, so it rejects an
    `ONBUILD COPY onlyone` that BuildKit accepts while no child uses it.
    """
    expression = _KEYWORD.sub("", command.original, count=1)
    if "<<" in expression and command.end_line > command.start_line:
        expression += "\n" + _heredoc_lines(text, command, escape)
    return parse_trigger(
        expression, path=path, line=command.start_line, end_line=command.end_line, escape=escape
    )


def parse_trigger(
    expression: str,
    *,
    path: str,
    line: int,
    end_line: int | None = None,
    escape: str = "\\",
) -> Instruction:
    """Parse one ONBUILD trigger expression (`RUN make`) on its own, as kaniko does.

    The result's text is the expression's own text (no `ONBUILD ` prefix) and it
    is placed at `line`, the ONBUILD or FROM line it came from.
    """
    if not expression.strip():
        raise DockerfileError(
            "ONBUILD requires an instruction",
            path=path,
            line=line,
            hint="Write ONBUILD followed by the instruction to run in child images.",
        )
    inner_kind = expression.split(None, 1)[0].upper()
    if inner_kind in _FORBIDDEN_TRIGGERS:
        raise DockerfileError(
            f"{inner_kind} is not allowed as an ONBUILD trigger",
            path=path,
            line=line,
            hint=_FORBIDDEN_TRIGGER_HINTS.get(inner_kind),
        )

    # The escape directive is repeated so a backtick-escaped trigger reads the same.
    source = expression if escape == "\\" else f"# escape={escape}\n{expression}"
    try:
        inner = buildkit_parser.parse_string(source)
    except buildkit_parser.GoParseError as exc:
        raise DockerfileError(f"invalid ONBUILD trigger: {exc}", path=path, line=line) from None
    except UnicodeDecodeError:
        raise _undecodable_flag(path, line) from None
    if len(inner) != 1:
        raise DockerfileError(
            f"ONBUILD trigger must be one instruction, found {len(inner)}", path=path, line=line
        )

    try:
        parsed = _instruction(inner[0], escape, path, source)
    except DockerfileError as exc:
        # The error names the trigger's line within `source`, so it is moved to the ONBUILD line.
        raise DockerfileError(exc.message, path=path, line=line, hint=exc.hint) from None
    return Instruction(
        kind=parsed.kind,
        text=parsed.text,
        args=parsed.args,
        start_line=line,
        end_line=end_line if end_line is not None else line,
        flags=parsed.flags,
        exec_form=parsed.exec_form,
        heredocs=parsed.heredocs,
        mounts=parsed.mounts,
    )


def _heredoc_lines(text: str, command: buildkit_parser.Command, escape: str) -> str:
    """Return the physical lines after the logical first line of `command`.

    The parser keeps an ONBUILD trigger's heredoc bodies out of `original`, so
    they are read back from the source. The logical line ends at the first
    physical line that does not end in the escape character, where comment and
    blank lines inside the continuation do not count.
    """
    lines = text.splitlines(keepends=True)[command.start_line - 1 : command.end_line]
    index = 0
    while index < len(lines) - 1:
        continued = lines[index].rstrip().endswith(escape)
        index += 1
        if not continued:
            break
        while index < len(lines) - 1 and _is_comment_or_blank(lines[index]):
            index += 1
    return "".join(lines[index:])


def _is_comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _stage(
    index: int, from_instruction: Instruction, instructions: list[Instruction], *, path: str
) -> Stage:
    words = from_instruction.args
    line = from_instruction.start_line
    name = None
    if len(words) == 3 and words[1].upper() == "AS":
        name = words[2].lower()
        if not _STAGE_NAME.match(name):
            raise DockerfileError(
                f"invalid stage name {words[2]!r}",
                path=path,
                line=line,
                hint="Start the stage name with a letter and use only letters, digits, '.', '_' and '-'.",
            )
    elif len(words) != 1:
        raise DockerfileError(
            "FROM requires one image and optionally `AS name`",
            path=path,
            line=line,
            hint="Write `FROM image[:tag|@digest] [AS name]`.",
        )

    return Stage(
        index=index,
        base=words[0],
        name=name,
        platform=from_instruction.flag("platform"),
        from_instruction=from_instruction,
        instructions=tuple(instructions),
    )
