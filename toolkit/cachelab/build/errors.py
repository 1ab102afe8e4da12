"""Errors of the builder's execution parts.

    BuildError                  anything the builder could not do (has `hint`)
    +-- SandboxUnavailable      no way to isolate a RUN step on this machine
    +-- RunFailed               a RUN step exited non-zero or timed out
    +-- CopySourceNotFound      a COPY/ADD source matched nothing
    +-- CopyError               a COPY/ADD could not be carried out otherwise
    +-- ChecksumMismatch        an ADD download did not match `--checksum`
    +-- InstructionError        an instruction's arguments are invalid

Messages name the Dockerfile line (`line N: ...`), the path or the URL involved.
RunFailed and CopySourceNotFound keep `line` apart and name the Dockerfile too
(`PATH:N: ...`) once `add_dockerfile_path` has set `path`.
"""

from __future__ import annotations

import os

from cachelab.keys.errors import SourceNotFoundError, missing_source_message


class BuildError(Exception):
    """Base of the builder's errors; `hint` is one sentence saying what to do next.

    `message` is the text without its location. When `line` is set, `str()`
    starts with `PATH:LINE: `, or `line LINE: ` while `path` is None.
    """

    default_hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.line = line
        self.path: str | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        location = f"{self.path}:{self.line}" if self.path is not None else f"line {self.line}"
        return f"{location}: {self.message}"


def add_dockerfile_path(error: BaseException, dockerfile: str | os.PathLike[str]) -> None:
    """Set the Dockerfile path on an error that names only a line, so its message reads `PATH:LINE: ...`."""
    if isinstance(error, (BuildError, SourceNotFoundError)) and error.line is not None and error.path is None:
        error.path = os.fspath(dockerfile)


class SandboxUnavailable(BuildError):
    """Neither bubblewrap nor a root-only chroot in new namespaces can run here."""

    default_hint = (
        "Install bubblewrap (Debian: `apt-get install bubblewrap`), or run the build "
        "as root so RUN steps can use unshare and chroot."
    )


class RunFailed(BuildError):
    """A RUN step returned a non-zero exit code or was killed after a timeout.

    `exit_code` is the command's status (negative: killed by that signal), `line`
    the Dockerfile line, `output_tail` the last lines the command printed.
    """

    default_hint = "Read the output above, fix the command, and build again."

    def __init__(
        self,
        instruction: str,
        *,
        exit_code: int,
        line: int | None,
        output_tail: list[str],
        timed_out: bool = False,
    ) -> None:
        if timed_out:
            what = "timed out and was killed"
        else:
            what = f"failed with exit code {exit_code}"
        tail = "\n".join(f"  | {text}" for text in output_tail)
        message = f"`{instruction}` {what}"
        if tail:
            message += f"; last output lines:\n{tail}"
        super().__init__(message, line=line)
        self.instruction = instruction
        self.exit_code = exit_code
        self.output_tail = output_tail
        self.timed_out = timed_out


class CopySourceNotFound(BuildError):
    """A COPY or ADD source does not exist (or a wildcard matched no file)."""

    default_hint = SourceNotFoundError.hint

    def __init__(self, source: str, *, line: int | None, origin: str) -> None:
        super().__init__(missing_source_message(source, origin), line=line)
        self.source = source
        self.origin = origin


class CopyError(BuildError):
    """A COPY or ADD could not be carried out (bad destination, bad archive, ...)."""


class ChecksumMismatch(BuildError):
    """The bytes downloaded by `ADD --checksum` have a different digest."""

    default_hint = "Update the --checksum value or check that the URL serves the intended file."


class InstructionError(BuildError):
    """An instruction's arguments cannot be applied (bad USER, bad HEALTHCHECK flag, ...)."""
