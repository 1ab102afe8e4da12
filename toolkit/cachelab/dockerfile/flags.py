"""Instruction flags (`--name=value`) and `RUN --mount` options.

Flag names and kinds follow the Dockerfile reference of BuildKit's frontend
(dockerfile:1.x syntax): string flags need a value, boolean flags may stand alone
or take `true`/`false`, and only `--mount` and `--exclude` may repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

from cachelab.dockerfile.errors import DockerfileError, closest_match
from cachelab.dockerfile.model import Mount


@dataclass(frozen=True, slots=True)
class FlagSpec:
    """The kind of one flag of one instruction: boolean or string, repeatable or not."""

    boolean: bool = False
    repeatable: bool = False


_STRING = FlagSpec()
_BOOLEAN = FlagSpec(boolean=True)
_REPEATED = FlagSpec(repeatable=True)

_COPY_FLAGS: dict[str, FlagSpec] = {
    "from": _STRING,
    "chown": _STRING,
    "chmod": _STRING,
    "link": _BOOLEAN,
    "parents": _BOOLEAN,
    "exclude": _REPEATED,
}

FLAGS_BY_INSTRUCTION: dict[str, dict[str, FlagSpec]] = {
    "FROM": {"platform": _STRING},
    "COPY": _COPY_FLAGS,
    "ADD": {**_COPY_FLAGS, "checksum": _STRING, "keep-git-dir": _BOOLEAN, "unpack": _BOOLEAN},
    "RUN": {"mount": _REPEATED, "network": _STRING, "security": _STRING},
    "HEALTHCHECK": {
        "interval": _STRING,
        "timeout": _STRING,
        "start-period": _STRING,
        "start-interval": _STRING,
        "retries": _STRING,
    },
}

_BOOLEAN_VALUES = frozenset(("true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False"))

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
# Option keys that BuildKit's `--mount` parser accepts, with their aliases.
_TARGET_KEYS = frozenset(("target", "dst", "destination"))
_SOURCE_KEYS = frozenset(("source", "src"))
_READONLY_KEYS = frozenset(("readonly", "ro"))
_READWRITE_KEYS = frozenset(("readwrite", "rw"))
_OTHER_MOUNT_KEYS = frozenset(
    ("type", "from", "id", "sharing", "mode", "uid", "gid", "required", "size", "env")
)
_MOUNT_KEYS = _TARGET_KEYS | _SOURCE_KEYS | _READONLY_KEYS | _READWRITE_KEYS | _OTHER_MOUNT_KEYS
_BARE_MOUNT_KEYS = _READONLY_KEYS | _READWRITE_KEYS | frozenset(("required",))


def parse_flags(
    kind: str, raw_flags: tuple[str, ...], *, path: str, line: int
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Parse and check the flags of one instruction, grouped by name in first-seen order.

    A boolean flag written bare (`--link`) is recorded with no value.
    """
    allowed = FLAGS_BY_INSTRUCTION.get(kind, {})
    grouped: dict[str, list[str]] = {}

    for raw in raw_flags:
        name, has_value, value = raw[2:].partition("=")
        spec = allowed.get(name)
        if spec is None:
            raise _unknown_flag(kind, name, allowed, path=path, line=line)
        if name in grouped and not spec.repeatable:
            raise DockerfileError(
                f"duplicate flag --{name} on {kind}",
                path=path,
                line=line,
                hint=f"Give --{name} once.",
            )

        values = grouped.setdefault(name, [])
        if spec.boolean:
            if has_value and value not in _BOOLEAN_VALUES:
                raise DockerfileError(
                    f"invalid value {value!r} for boolean flag --{name} on {kind}",
                    path=path,
                    line=line,
                    hint=f"Write --{name}, --{name}=true or --{name}=false.",
                )
            if has_value:
                values.append(value)
        elif not has_value:
            raise DockerfileError(
                f"missing value for flag --{name} on {kind}",
                path=path,
                line=line,
                hint=f"Write --{name}=VALUE with no space after the flag name.",
            )
        else:
            values.append(value)

    return tuple((name, tuple(values)) for name, values in grouped.items())


def _unknown_flag(
    kind: str, name: str, allowed: dict[str, FlagSpec], *, path: str, line: int
) -> DockerfileError:
    if not allowed:
        return DockerfileError(
            f"unknown flag --{name}: {kind} takes no flags", path=path, line=line
        )
    suggestion = closest_match(name, allowed)
    valid = ", ".join(f"--{flag}" for flag in allowed)
    hint = f"Write --{suggestion} if that is the flag you meant." if suggestion else f"Use a flag {kind} accepts: {valid}."
    return DockerfileError(f"unknown flag --{name} on {kind}", path=path, line=line, hint=hint)


def parse_mount(value: str, *, path: str, line: int) -> Mount:
    """Parse the CSV options of one `RUN --mount=` value.

    The type defaults to `bind`. As in BuildKit, bind, secret and ssh mounts are
    read-only and cache and tmpfs mounts writable, unless an `ro` or `rw` option overrides the default.
    """
    # Imported here because most Dockerfiles have no RUN --mount.
    import csv

    try:
        fields = next(csv.reader([value]), [])
    except csv.Error as exc:
        raise DockerfileError(
            f"invalid --mount value {value!r}: {exc}", path=path, line=line
        ) from None

    options: list[tuple[str, str]] = []
    for field in fields:
        key, has_value, option_value = field.partition("=")
        key = key.strip().lower()
        if key not in _MOUNT_KEYS:
            raise DockerfileError(
                f"unknown --mount option {key!r} in {value!r}",
                path=path,
                line=line,
                hint=_mount_key_hint(key),
            )
        if not has_value and key not in _BARE_MOUNT_KEYS:
            raise DockerfileError(
                f"--mount option {key!r} needs a value (key=value) in {value!r}",
                path=path,
                line=line,
            )
        # BuildKit rejects a variable in `from` unless the `$` is the last character.
        if key == "from" and "$" in option_value[:-1]:
            raise DockerfileError(
                f"--mount option 'from' cannot use a variable in {value!r}",
                path=path,
                line=line,
                hint="Name the stage in a FROM line (`FROM ${IMAGE} AS source`) and write from=source.",
            )
        options.append((key, option_value))

    return _mount_from_options(tuple(options), value, path=path, line=line)


def _mount_key_hint(key: str) -> str:
    suggestion = closest_match(key, _MOUNT_KEYS)
    if suggestion:
        return f"Write {suggestion!r} if that is the option you meant."
    return "Use a --mount option such as type, source, target, from, id, readonly, sharing or mode."


def _mount_from_options(
    options: tuple[tuple[str, str], ...], value: str, *, path: str, line: int
) -> Mount:
    settings = {key: option_value for key, option_value in options}
    mount_type = settings.get("type", "bind").lower()
    if mount_type not in MOUNT_TYPES:
        raise DockerfileError(
            f"unknown --mount type {mount_type!r} in {value!r}",
            path=path,
            line=line,
            hint=f"Use one of the mount types: {', '.join(MOUNT_TYPES)}.",
        )

    readonly = mount_type not in ("cache", "tmpfs")
    for key, option_value in options:
        if key in _READONLY_KEYS:
            readonly = option_value.lower() not in ("false", "0")
        elif key in _READWRITE_KEYS:
            readonly = option_value.lower() in ("false", "0")

    return Mount(
        type=mount_type,
        target=_last_of(options, _TARGET_KEYS),
        source=_last_of(options, _SOURCE_KEYS),
        from_=settings.get("from"),
        id=settings.get("id"),
        readonly=readonly,
        options=options,
    )


def _last_of(options: tuple[tuple[str, str], ...], keys: frozenset[str]) -> str | None:
    found = None
    for key, option_value in options:
        if key in keys:
            found = option_value
    return found
