"""Argument rules of each instruction, checked when the Dockerfile is parsed.

BuildKit's instruction parser (`frontend/dockerfile/instructions/parse.go`,
moby/buildkit 73ed6825), which kaniko also uses, rejects a Dockerfile that
breaks these rules before any build step runs. So every cachelab command that
parses it (plan, keys, scan, build) rejects it too:

* ENV, LABEL, ARG, EXPOSE, VOLUME, SHELL and HEALTHCHECK need at least one
  argument, and COPY and ADD at least two, the last of which is no heredoc.
* USER, WORKDIR, MAINTAINER and STOPSIGNAL need exactly one. The parser keeps
  the whole rest of their line as one word, so `USER a b` is one argument.
* ENV, LABEL and ARG names must not be empty (`ENV =x`), and no VOLUME path
  may be blank (`VOLUME [""]`).
* SHELL takes a JSON array with at least one element.
* HEALTHCHECK takes NONE with nothing after it, or CMD with a command. Its
  durations are Go durations of 0 or at least 1ms, and `--retries` is a whole
  number from 0 to 2^31 - 1.
* RUN `--network` is default, none or host, and `--security` is insecure or
  sandbox, as written, because BuildKit checks them before expanding variables.

RUN, CMD and ENTRYPOINT have no minimum, because BuildKit's instruction parser
accepts them bare. FROM and ONBUILD are checked in `cachelab.dockerfile.parse`.
"""

from __future__ import annotations

from cachelab.dockerfile.errors import DockerfileError
from cachelab.dockerfile.model import Instruction

_MINIMUM_ARGUMENTS = {
    "ADD": 2,
    "ARG": 1,
    "COPY": 2,
    "ENV": 1,
    "EXPOSE": 1,
    "FROM": 1,
    "HEALTHCHECK": 1,
    "LABEL": 1,
    "SHELL": 1,
    "VOLUME": 1,
}
_SINGLE_ARGUMENT = frozenset(("MAINTAINER", "STOPSIGNAL", "USER", "WORKDIR"))
_NUMBER_WORDS = {1: "one", 2: "two"}
_HEALTHCHECK_DURATIONS = ("interval", "timeout", "start-period", "start-interval")
_MINIMUM_INTERVAL_NS = 1_000_000
# Go's time.Duration and strconv.ParseInt(value, 10, 32) bound these values.
_MAXIMUM_DURATION_NS = 2**63 - 1
_MAXIMUM_RETRIES = 2**31 - 1

_SHELL_HINT = 'Write the shell and its options as a JSON array, for example SHELL ["/bin/sh", "-c"].'
_MINIMUM_HINTS = {
    "ADD": "Write the sources and then the destination: ADD src... dest.",
    "COPY": "Write the sources and then the destination: COPY src... dest.",
    "ENV": "Write ENV NAME=VALUE.",
    "LABEL": "Write LABEL NAME=VALUE.",
    "ARG": "Write ARG NAME or ARG NAME=DEFAULT.",
    "EXPOSE": "Write the port to expose, such as EXPOSE 8080 or EXPOSE 53/udp.",
    "FROM": "Write `FROM image[:tag|@digest] [AS name]`.",
    "VOLUME": "Write the path to declare as a volume, such as VOLUME /data.",
    "HEALTHCHECK": "Write HEALTHCHECK CMD command, or HEALTHCHECK NONE.",
    "SHELL": _SHELL_HINT,
}
_RUN_FLAG_VALUES = {
    "network": ("default", "none", "host"),
    "security": ("insecure", "sandbox"),
}
_SINGLE_HINTS = {
    "MAINTAINER": "Write the maintainer's name, or use LABEL maintainer=NAME.",
    "STOPSIGNAL": "Write the signal that stops the container, such as STOPSIGNAL SIGTERM.",
    "USER": "Write the user name or UID, such as USER 1000 or USER app:app.",
    "WORKDIR": "Write the working directory, such as WORKDIR /app.",
}


def check_arguments(instruction: Instruction, path: str) -> None:
    """Raise DockerfileError, naming `path` and the line, when BuildKit would reject the arguments."""
    kind = instruction.kind
    if kind in _MINIMUM_ARGUMENTS:
        _check_minimum(instruction, _MINIMUM_ARGUMENTS[kind], path)
    if kind in _SINGLE_ARGUMENT:
        _check_single(instruction, path)

    if kind in ("ENV", "LABEL"):
        # The parser returns NAME, VALUE pairs as consecutive words.
        if any(name == "" for name in instruction.args[::2]):
            raise _empty_name(instruction, path)
    elif kind == "ARG":
        if any(word.startswith("=") for word in instruction.args):
            raise _empty_name(instruction, path)
    elif kind == "VOLUME":
        if any(not word.strip() for word in instruction.args):
            raise _error(instruction, path, "VOLUME has an empty path",
                         "Remove the empty string from the VOLUME list.")
    elif kind in ("COPY", "ADD") and instruction.heredocs:
        # Imported here, as in the parser, because most Dockerfiles have no heredoc.
        from cachelab.dockerfile.heredocs import is_marker

        if is_marker(instruction.args[-1]):
            raise _error(instruction, path, f"{kind} cannot take a heredoc as its destination",
                         f"Put the destination path last, after the heredoc sources: {kind} <<EOF /path.")
    elif kind == "SHELL":
        if not instruction.exec_form:
            raise _error(instruction, path, "SHELL requires a JSON array", _SHELL_HINT)
    elif kind == "HEALTHCHECK":
        _check_healthcheck(instruction, path)
    elif kind == "RUN":
        _check_run_flags(instruction, path)


def ignores_flags(kind: str, args: tuple[str, ...]) -> bool:
    """Return True for the instructions whose flags BuildKit never reads.

    BuildKit parses no flags for STOPSIGNAL and HEALTHCHECK NONE, so it accepts
    any flag there, unknown ones included, and the flags have no effect.
    """
    if kind == "STOPSIGNAL":
        return True
    return kind == "HEALTHCHECK" and bool(args) and args[0].upper() == "NONE"


def _check_healthcheck(instruction: Instruction, path: str) -> None:
    """Check the type, command and flag values of a HEALTHCHECK that has arguments."""
    mode = instruction.args[0].upper()
    if mode == "NONE":
        if len(instruction.args) > 1:
            raise _error(instruction, path, "HEALTHCHECK NONE takes no arguments",
                         "Remove the words after NONE.")
        return
    if mode != "CMD":
        raise _error(instruction, path, f"unknown HEALTHCHECK type {instruction.args[0]!r}",
                     "Write HEALTHCHECK CMD command, or HEALTHCHECK NONE to turn off the base image's check.")
    if len(instruction.args) < 2:
        raise _error(instruction, path, "HEALTHCHECK CMD has no command",
                     "Write the command to run after CMD.")

    for name in _HEALTHCHECK_DURATIONS:
        value = instruction.flag(name)
        if value:
            _check_interval(instruction, path, name, value)
    retries = instruction.flag("retries")
    if retries:
        _check_retries(instruction, path, retries)


def _check_interval(instruction: Instruction, path: str, name: str, value: str) -> None:
    hint = f"Write --{name} as a duration of at least 1ms, such as 30s or 1m30s, or 0 for the default."
    # Imported here because few Dockerfiles set HEALTHCHECK durations.
    from cachelab.dockerfile.duration import parse_duration_ns

    # Go's time.ParseDuration takes a leading sign, which parse_duration_ns rejects.
    negative = value.startswith("-")
    unsigned = value[1:] if value[:1] in ("-", "+") else value
    try:
        nanoseconds = parse_duration_ns(unsigned)
    except ValueError:
        raise _error(instruction, path, f"invalid HEALTHCHECK --{name} duration {value!r}", hint) from None
    if nanoseconds > _MAXIMUM_DURATION_NS:
        raise _error(instruction, path, f"HEALTHCHECK --{name} duration {value!r} is too large", hint)
    if nanoseconds != 0 and (negative or nanoseconds < _MINIMUM_INTERVAL_NS):
        raise _error(instruction, path, f"HEALTHCHECK --{name} {value!r} is less than 1ms", hint)


def _check_retries(instruction: Instruction, path: str, value: str) -> None:
    digits = value[1:] if value[:1] in ("-", "+") else value
    if not (digits.isascii() and digits.isdigit()):
        raise _error(instruction, path, f"invalid HEALTHCHECK --retries {value!r}: not a whole number",
                     "Write --retries as a whole number, such as 3.")
    retries = -int(digits) if value.startswith("-") else int(digits)
    if retries < 0 or retries > _MAXIMUM_RETRIES:
        raise _error(instruction, path, f"HEALTHCHECK --retries {value!r} is out of range",
                     f"Write --retries as a whole number from 0 to {_MAXIMUM_RETRIES}.")


def _check_run_flags(instruction: Instruction, path: str) -> None:
    for name, allowed in _RUN_FLAG_VALUES.items():
        value = instruction.flag(name)
        if value is not None and value not in allowed:
            choices = ", ".join(allowed)
            raise _error(instruction, path, f"invalid RUN --{name} value {value!r}",
                         f"Set --{name} to one of {choices}, written without variables.")


def _check_minimum(instruction: Instruction, minimum: int, path: str) -> None:
    count = len(instruction.args)
    if count >= minimum:
        return
    kind = instruction.kind
    plural = "s" if minimum > 1 else ""
    message = f"{kind} requires at least {_NUMBER_WORDS[minimum]} argument{plural}, found {count}"
    if kind == "SHELL" and instruction.exec_form:
        message = "SHELL requires at least one argument, but its JSON array is empty"
    raise _error(instruction, path, message, _MINIMUM_HINTS.get(kind))


def _check_single(instruction: Instruction, path: str) -> None:
    count = len(instruction.args)
    if count != 1:
        raise _error(instruction, path, f"{instruction.kind} requires exactly one argument, found {count}",
                     _SINGLE_HINTS[instruction.kind])


def _empty_name(instruction: Instruction, path: str) -> DockerfileError:
    return _error(instruction, path, f"{instruction.kind} has an empty name",
                  "Write a name before each `=`.")


def _error(instruction: Instruction, path: str, message: str, hint: str | None) -> DockerfileError:
    return DockerfileError(message, path=path, line=instruction.start_line, hint=hint)
