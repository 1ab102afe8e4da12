"""`RUN --mount` flags turned into sandbox mounts with host sources.

* `bind`: a path of the build context; read-only unless `rw`, and then writes go
  to a throw-away copy, as in BuildKit, so the context does not change. A bind
  mount `from=` another stage or image is skipped with a warning, as kaniko
  does: the step runs without it, and its key does not hash it either.
* `cache`: a directory per `id` (default: the target) under the builder's cache
  directory, kept between RUN steps and builds. `sharing` is not enforced:
  concurrent steps using one id see each other's writes.
* `tmpfs`: an empty in-memory directory.
* `secret`: a host file bound read-only at `target`, by default
  `/run/secrets/<id>`. A missing secret fails the step only with `required`.
  The mount point is removed after the step, so no layer holds the secret, and
  `secret_values` gives the contents that RUN output masks.
* `ssh` is not supported and fails the step.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cachelab.build.errors import InstructionError, location_prefix
from cachelab.build.sandbox import SandboxMount
from cachelab.dockerfile.model import Mount
from cachelab.keys.errors import RUN_BIND_SOURCE_HINT, missing_source_message

logger = logging.getLogger(__name__)

Expand = Callable[[str], str]

# Secret lines shorter than this are not masked in RUN output, because masking
# every occurrence of one to three characters would garble ordinary output.
MIN_MASKED_LENGTH = 4
# Only the start of a secret file is read for masking; secrets are tokens, keys
# and small configuration files.
_MASK_READ_LIMIT = 1 << 16


@dataclass(frozen=True)
class MountSources:
    """Where mount sources live on the host.

    `secrets` maps a secret id to a host file.
    """

    context: str
    cache_dir: str
    temp_dir: str
    secrets: Mapping[str, str] = field(default_factory=dict)


def _identity(word: str) -> str:
    return word


def resolve_mounts(
    mounts: Sequence[Mount],
    sources: MountSources,
    *,
    line: int | None = None,
    expand: Expand = _identity,
    dockerfile: str | None = None,
) -> list[SandboxMount]:
    """Turn parsed `--mount` flags into `SandboxMount`s; expands every value with `expand`.

    `dockerfile` and `line` locate the RUN in the warning about a skipped mount.
    """
    resolved: list[SandboxMount] = []
    for mount in mounts:
        target = expand(mount.target) if mount.target else None
        if mount.type == "bind":
            origin = expand(mount.from_) if mount.from_ is not None else ""
            if origin not in ("", "context"):
                _warn_cross_stage(origin, line, dockerfile)
                continue
            resolved.append(_bind(mount, target, sources, line, expand))
        elif mount.type == "cache":
            resolved.append(_cache(mount, target, sources, line, expand))
        elif mount.type == "tmpfs":
            resolved.append(SandboxMount("tmpfs", _absolute(target, line)))
        elif mount.type == "secret":
            secret = _secret(mount, target, sources, line, expand)
            if secret is not None:
                resolved.append(secret)
        else:
            raise InstructionError(
                f"RUN --mount=type={mount.type} is not supported by cachelab",
                line=line,
                hint="Remove the mount or replace it with a secret or bind mount.",
            )
    return resolved


def _absolute(target: str | None, line: int | None) -> str:
    if not target:
        raise InstructionError("RUN --mount needs a target", line=line)
    return "/" + target.strip("/") if target.strip("/") else "/"


def _inside(base: str, relative: str, line: int | None) -> str:
    """Join `relative` to `base`, rejecting a result outside `base` (after symlinks)."""
    base_real = os.path.realpath(base)
    candidate = os.path.realpath(os.path.join(base_real, relative.lstrip("/")))
    if candidate != base_real and not candidate.startswith(base_real + os.sep):
        raise InstructionError(f"mount source {relative!r} leaves {base}", line=line)
    if not os.path.exists(candidate):
        raise InstructionError(
            missing_source_message(relative, base, kind="RUN bind mount source"), line=line,
            hint=RUN_BIND_SOURCE_HINT,
        )
    return candidate


def _warn_cross_stage(origin: str, line: int | None, dockerfile: str | None) -> None:
    where = location_prefix(dockerfile, line)
    logger.warning("%sRUN --mount=type=bind,from=%s is skipped: kaniko does not support bind "
                   "mounts from other stages or images", where, origin)


def _bind(
    mount: Mount, target: str | None, sources: MountSources, line: int | None, expand: Expand
) -> SandboxMount:
    base = sources.context
    source = _inside(base, expand(mount.source or "."), line)
    if mount.readonly:
        return SandboxMount("bind", _absolute(target, line), source, readonly=True)

    # A writable bind mount writes to a copy; the step's writes are discarded.
    scratch = tempfile.mkdtemp(prefix="bind-", dir=sources.temp_dir)
    copy = os.path.join(scratch, "src")
    if os.path.isdir(source):
        shutil.copytree(source, copy, symlinks=True)
    else:
        shutil.copy2(source, copy)
    return SandboxMount("bind", _absolute(target, line), copy, readonly=False)


def _cache(
    mount: Mount, target: str | None, sources: MountSources, line: int | None, expand: Expand
) -> SandboxMount:
    cache_id = expand(mount.id) if mount.id else (target or "")
    options = dict(mount.options)
    # A readable prefix plus a digest keeps distinct ids apart on disk.
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", cache_id).strip("_")[:40] or "cache"
    digest = hashlib.sha256(cache_id.encode()).hexdigest()[:16]
    directory = os.path.join(sources.cache_dir, f"{readable}-{digest}")
    if not os.path.isdir(directory):
        try:
            mode = int(options.get("mode", "0755"), 8)
            uid = int(options.get("uid", "0"))
            gid = int(options.get("gid", "0"))
        except ValueError:
            raise InstructionError(
                f"invalid mode, uid or gid in --mount=type=cache: {dict(mount.options)}",
                line=line,
                hint="Give mode in octal (mode=0755) and numeric uid and gid.",
            ) from None
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, mode)
        if "uid" in options or "gid" in options:
            os.chown(directory, uid, gid)
    return SandboxMount("bind", _absolute(target, line), directory, readonly=mount.readonly)


def _secret(
    mount: Mount, target: str | None, sources: MountSources, line: int | None, expand: Expand
) -> SandboxMount | None:
    options = dict(mount.options)
    secret_id = expand(mount.id) if mount.id else (os.path.basename(target) if target else None)
    if not secret_id:
        raise InstructionError("RUN --mount=type=secret needs an id or a target", line=line)
    source = sources.secrets.get(secret_id)
    required = options.get("required", "false").lower() in ("", "true", "1")
    if source is None or not os.path.isfile(source):
        if required:
            raise InstructionError(
                f"secret {secret_id!r} is required but was not given",
                line=line,
                hint=f"Pass the secret with id {secret_id!r} to the build.",
            )
        logger.info("secret %r not given; RUN continues without it", secret_id)
        return None
    # NOTE: the uid, gid and mode options are ignored: the file keeps its host owner
    # and mode, so a non-root USER reads it only when the host file allows that.
    return SandboxMount("bind", _absolute(target or f"/run/secrets/{secret_id}", line), source)


def secret_values(paths: Iterable[str]) -> tuple[str, ...]:
    """Return the text to mask in RUN output: each line of each secret file, longest first.

    NOTE: lines shorter than `MIN_MASKED_LENGTH` and text past the first 64 KiB
    of a file are not masked.
    """
    values: set[str] = set()
    for path in paths:
        try:
            with open(path, "rb") as stream:
                data = stream.read(_MASK_READ_LIMIT)
        except OSError as exc:
            logger.warning("cannot read secret file %s to mask it in RUN output: %s", path, exc)
            continue
        text = data.decode("utf-8", errors="replace")
        values.update(line.strip() for line in text.splitlines() if len(line.strip()) >= MIN_MASKED_LENGTH)
    return tuple(sorted(values, key=len, reverse=True))
