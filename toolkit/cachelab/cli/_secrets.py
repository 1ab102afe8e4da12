"""`--secret` options in BuildKit's spelling, turned into the files a build mounts.

`--secret id=ID,src=PATH` (also `source=PATH`, `type=file`) names a file, and
`--secret id=ID,env=VAR` (also `type=env`) an environment variable. With
neither, the environment variable named ID is used when it is set, as Docker's
build secrets guide (docs.docker.com/build/building/secrets/) describes, and
the file ID otherwise. An environment variable's value is
written to a private temporary file (mode 0600) that is removed when the build
ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cachelab.build.errors import BuildError

SECRET_HELP = (
    "a secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR; repeat for more. "
    "Its content enters no key, layer, log or recording"
)


class InvalidSecret(BuildError):
    """A --secret option is malformed or names a missing file or variable."""


@dataclass(frozen=True)
class SecretSource:
    """The source of one secret: a file path or an environment variable name."""

    secret_id: str
    path: str | None = None
    env: str | None = None


def add_secret_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secret", action="append", default=[], metavar="id=ID,src=PATH", help=SECRET_HELP)


def parse_secret(spec: str) -> SecretSource:
    """Parse one `--secret` value; raise `InvalidSecret` on an unknown or missing field."""
    fields: dict[str, str] = {}
    for item in spec.split(","):
        key, equals, value = item.partition("=")
        key = key.strip().lower()
        if not equals or not key:
            raise InvalidSecret(f"--secret {spec!r}: field {item!r} is not KEY=VALUE",
                                hint="Write --secret id=ID,src=PATH or --secret id=ID,env=VAR.")
        if key not in ("id", "src", "source", "env", "type"):
            raise InvalidSecret(f"--secret {spec!r}: unknown field {key!r}",
                                hint="Use the fields id, src (or source), env and type.")
        fields["src" if key == "source" else key] = value
    secret_id = fields.get("id", "")
    if not secret_id:
        raise InvalidSecret(f"--secret {spec!r} has no id", hint="Add id=ID, the id the RUN --mount names.")
    kind = fields.get("type")
    if kind not in (None, "file", "env"):
        raise InvalidSecret(f"--secret {spec!r}: type {kind!r} is not file or env",
                            hint="Write type=file or type=env, or leave type out.")
    path, env = fields.get("src"), fields.get("env")
    if kind == "env" and env is None:
        env, path = path or secret_id, None
    if path is None and env is None:
        if kind != "file" and secret_id in os.environ:
            env = secret_id
        else:
            path = secret_id
    if path is not None and env is not None:
        raise InvalidSecret(f"--secret {spec!r} names both a file and an environment variable",
                            hint="Give either src=PATH or env=VAR.")
    return SecretSource(secret_id, path=path, env=env)


@contextlib.contextmanager
def secret_files(specs: Sequence[str]) -> Iterator[dict[str, Path]]:
    """Yield the secrets of `specs` as id -> file; files written for variables are removed afterwards."""
    sources = [parse_secret(spec) for spec in specs]
    files: dict[str, Path] = {}
    with contextlib.ExitStack() as cleanup:
        directory: str | None = None
        for source in sources:
            if source.secret_id in files:
                raise InvalidSecret(f"--secret id {source.secret_id!r} is given twice",
                                    hint="Give each secret id once.")
            if source.env is not None:
                if source.env not in os.environ:
                    raise InvalidSecret(
                        f"--secret id={source.secret_id}: environment variable {source.env} is not set",
                        hint=f"Set {source.env} or pass src=PATH instead.",
                    )
                if directory is None:
                    # mkdtemp creates the directory with mode 0700.
                    directory = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="cachelab-secrets-"))
                files[source.secret_id] = _write_private(Path(directory), len(files), os.environ[source.env])
                continue
            assert source.path is not None
            path = Path(source.path).expanduser()
            if not path.is_file():
                raise InvalidSecret(f"--secret id={source.secret_id}: file {path} not found",
                                    hint="Pass src= with the path of an existing file.")
            files[source.secret_id] = path
        yield files


def _write_private(directory: Path, number: int, value: str) -> Path:
    path = directory / f"secret-{number}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(value)
    return path
