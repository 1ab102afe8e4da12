"""Config changes of the metadata instructions (ENV, USER, LABEL, CMD, ...).

`apply_metadata` changes an `ImageConfig` in place for one instruction and never
touches the filesystem. Values are expanded with the caller's `expand`, which
sees the environment from before the instruction, as in Docker: in
`ENV A=1 B=$A`, `$A` is the previous value of A. CMD, ENTRYPOINT, SHELL and
HEALTHCHECK commands are not expanded (the shell does that when they run).
VOLUME only records the volume: like kaniko with FF_KANIKO_VOLUME_SKIP_MKDIR
(on by default), no directory is created, because a directory made outside any
layer differs between cached and uncached builds.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Callable

from cachelab.build.config import Healthcheck, ImageConfig
from cachelab.build.errors import InstructionError
from cachelab.dockerfile.model import Instruction

logger = logging.getLogger(__name__)

Expand = Callable[[str], str]

# Instructions that change only the config. WORKDIR also changes the config
# here; its directory is made by `cachelab.build.workdir`.
METADATA_KINDS = frozenset({
    "ENV", "ARG", "USER", "LABEL", "EXPOSE", "VOLUME", "CMD", "ENTRYPOINT", "ONBUILD",
    "HEALTHCHECK", "STOPSIGNAL", "SHELL", "WORKDIR", "MAINTAINER",
})

DEFAULT_SHELL = ["/bin/sh", "-c"]


def apply_metadata(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    """Apply the config part of `instruction` to `config`.

    Raises `InstructionError` naming the line for invalid arguments, and for
    instructions that are not metadata.
    """
    handler = _HANDLERS.get(instruction.kind)
    if handler is None:
        raise InstructionError(
            f"{instruction.kind} is not a metadata instruction", line=instruction.start_line
        )
    handler(config, instruction, expand)


def _pairs(instruction: Instruction) -> list[tuple[str, str]]:
    args = instruction.args
    if len(args) % 2:
        raise InstructionError(
            f"{instruction.kind} needs NAME=VALUE pairs", line=instruction.start_line, instruction=instruction.text
        )
    return [(args[index], args[index + 1]) for index in range(0, len(args), 2)]


def _env(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    for name, value in [(expand(name), expand(value)) for name, value in _pairs(instruction)]:
        config.config.set_env(name, value)


def _arg(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    return None  # build args live in the builder's state, not in the config


def _user(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    config.config.user = expand(_single(instruction))


def _label(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    labels = dict(config.config.labels or {})
    for name, value in _pairs(instruction):
        labels[expand(name)] = expand(value)
    config.config.labels = labels


def _expose(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    ports = dict(config.config.exposed_ports or {})
    for word in instruction.args:
        for port in _port_specs(expand(word), instruction.start_line):
            ports[port] = {}
    config.config.exposed_ports = ports


def _port_specs(spec: str, line: int) -> list[str]:
    number, _, protocol = spec.partition("/")
    protocol = (protocol or "tcp").lower()
    if protocol not in ("tcp", "udp", "sctp"):
        raise InstructionError(f"invalid EXPOSE protocol in {spec!r}", line=line)
    first, _, last = number.partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        raise InstructionError(f"invalid EXPOSE port {spec!r}", line=line)
    end = int(last) if last else int(first)
    return [f"{port}/{protocol}" for port in range(int(first), end + 1)]


def _volume(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    volumes = dict(config.config.volumes or {})
    for word in instruction.args:
        path = expand(word).strip()
        if not path:
            raise InstructionError("VOLUME with an empty path", line=instruction.start_line)
        volumes[path] = {}
    config.config.volumes = volumes


def _command(config: ImageConfig, instruction: Instruction) -> list[str]:
    if instruction.exec_form:
        return list(instruction.args)
    shell = config.config.shell or DEFAULT_SHELL
    return [*shell, " ".join(instruction.args)]


def _cmd(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    config.config.cmd = _command(config, instruction)
    config.cmd_set = True


def _entrypoint(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    config.config.entrypoint = _command(config, instruction)
    # Docker: an ENTRYPOINT clears a CMD inherited from the base image.
    if not config.cmd_set:
        config.config.cmd = None


def _onbuild(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    trigger = instruction.text[len("ONBUILD"):].strip()
    config.config.on_build = [*(config.config.on_build or []), trigger]


def _healthcheck(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    line = instruction.start_line
    if not instruction.args:
        raise InstructionError("HEALTHCHECK needs NONE or CMD", line=line)
    mode = instruction.args[0].upper()
    if mode == "NONE":
        if len(instruction.args) > 1 or instruction.flags:
            raise InstructionError("HEALTHCHECK NONE takes no arguments", line=line)
        config.config.healthcheck = Healthcheck(test=["NONE"])
        return
    if mode != "CMD" or len(instruction.args) < 2:
        raise InstructionError("HEALTHCHECK needs NONE or CMD and a command", line=line)
    rest = list(instruction.args[1:])
    test = ["CMD", *rest] if instruction.exec_form else ["CMD-SHELL", " ".join(rest)]
    config.config.healthcheck = Healthcheck(
        test=test,
        interval_ns=_duration(instruction.flag("interval"), line),
        timeout_ns=_duration(instruction.flag("timeout"), line),
        start_period_ns=_duration(instruction.flag("start-period"), line),
        start_interval_ns=_duration(instruction.flag("start-interval"), line),
        retries=_retries(instruction.flag("retries"), line),
    )


def _retries(text: str | None, line: int) -> int:
    # As in BuildKit, the value takes one leading sign, and it must not be negative.
    if not text:
        return 0
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not (digits.isascii() and digits.isdigit()) or (text[:1] == "-" and int(digits) != 0):
        raise InstructionError("HEALTHCHECK --retries must be a whole number", line=line)
    return int(digits)


def parse_duration(text: str) -> int:
    """Parse a HEALTHCHECK duration (`30s`, `1m30s`, `1.5h`, `250ms`) into nanoseconds.

    An empty value means 0, the default, as it does for BuildKit's HEALTHCHECK flags.
    """
    if text == "":
        return 0
    from cachelab.dockerfile.duration import parse_duration_ns

    return parse_duration_ns(text)


def _duration(text: str | None, line: int) -> int:
    if text is None:
        return 0
    try:
        value = parse_duration(text[1:] if text[:1] in ("+", "-") else text)
        if text[:1] == "-" and value != 0:
            raise ValueError(f"negative duration {text!r}")
        return value
    except ValueError as exc:
        raise InstructionError(f"HEALTHCHECK: {exc}", line=line) from None


def _stopsignal(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    config.config.stop_signal = expand(_single(instruction))


def _shell(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    if not instruction.exec_form or not instruction.args:
        raise InstructionError(
            "SHELL needs a JSON array, e.g. SHELL [\"/bin/sh\", \"-c\"]", line=instruction.start_line
        )
    config.config.shell = list(instruction.args)


def _workdir(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    config.config.working_dir = resolve_workdir(config.config.working_dir, expand(_single(instruction)))


def resolve_workdir(current: str, requested: str) -> str:
    """Join a WORKDIR value to the current one, as an absolute clean path."""
    joined = posixpath.join(current or "/", requested)
    return posixpath.normpath("/" + joined.lstrip("/"))


def _maintainer(config: ImageConfig, instruction: Instruction, expand: Expand) -> None:
    config.author = " ".join(instruction.args)


def _single(instruction: Instruction) -> str:
    if len(instruction.args) != 1:
        raise InstructionError(
            f"{instruction.kind} takes exactly one argument", line=instruction.start_line
        )
    return instruction.args[0]


_HANDLERS: dict[str, Callable[[ImageConfig, Instruction, Expand], None]] = {
    "ENV": _env,
    "ARG": _arg,
    "USER": _user,
    "LABEL": _label,
    "EXPOSE": _expose,
    "VOLUME": _volume,
    "CMD": _cmd,
    "ENTRYPOINT": _entrypoint,
    "ONBUILD": _onbuild,
    "HEALTHCHECK": _healthcheck,
    "STOPSIGNAL": _stopsignal,
    "SHELL": _shell,
    "WORKDIR": _workdir,
    "MAINTAINER": _maintainer,
}
