"""Errors of the builder's execution parts.

    BuildError                  anything the builder could not do (has `hint`)
    +-- SandboxUnavailable      no way to isolate a RUN step on this machine
    +-- RunFailed               a RUN step exited non-zero or timed out
    +-- RunProgramMissing       a RUN step's shell or program is not in the stage
    +-- CopySourceNotFound      a COPY/ADD source matched nothing
    +-- CopyError               a COPY/ADD could not be carried out otherwise
    +-- ChecksumMismatch        an ADD download did not match `--checksum`
    +-- InstructionError        an instruction's arguments are invalid
    +-- InstructionFailed       the host failed while an instruction ran (OSError)
    +-- PlatformMismatch        a base image is for another platform than requested

An error about an instruction keeps its Dockerfile line and the instruction's
text apart from the message and reads `PATH:LINE: INSTRUCTION: message`, for
example `Dockerfile:12: COPY app /app: cannot copy a file over the directory
/app`. A raise site sets the line when it knows it. `StageRunner` fills in the
line and text of the instruction being executed, and for a failure while saving
stage files, those of the `COPY --from` that reads the path. `build()` then sets
the Dockerfile path with `add_dockerfile_path`. RunFailed and CopySourceNotFound
name the instruction in their message already, so they read `PATH:LINE:
message`.
"""

from __future__ import annotations

import errno
import os

from cachelab.dockerfile.errors import DockerfileError
from cachelab.keys.errors import SourceNotFoundError, missing_source_message


class BuildError(Exception):
    """Base of the builder's errors; `hint` is one sentence saying what to do next.

    `message` is the text without its location. `line` is the Dockerfile line and
    `instruction` the instruction's text; `str()` puts both before the message.
    """

    default_hint: str | None = None
    # True when `message` already quotes or names the instruction, so `str()` leaves it out.
    message_names_instruction = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        line: int | None = None,
        instruction: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.line = line
        self.instruction = instruction
        self.path: str | None = None

    def locate(self, line: int, instruction: str) -> None:
        """Set the Dockerfile line and the instruction's text where the raise site left them unset."""
        if self.line is None:
            self.line = line
        if self.instruction is None:
            self.instruction = instruction

    def __str__(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"{self.path}:{self.line}" if self.path is not None else f"line {self.line}")
        if self.instruction is not None and not self.message_names_instruction:
            parts.append(shorten_instruction(self.instruction))
        parts.append(self.message)
        return ": ".join(parts)


def shorten_instruction(text: str, limit: int = 60) -> str:
    """Return the instruction text, cut to at most `limit` characters ending in `...`, so a long RUN stays short."""
    if len(text) <= limit:
        return text
    return text[: limit - 3].rstrip() + "..."


def location_prefix(dockerfile: str | None, line: int | None) -> str:
    """Return `PATH:LINE: ` to start a log line, or as much of it as is known."""
    if line is None:
        return f"{dockerfile}: " if dockerfile is not None else ""
    return f"{dockerfile}:{line}: " if dockerfile is not None else f"line {line}: "


def failure_message(error: BaseException) -> str:
    """Return the text a failed build records as its error, naming the signal of an interrupt that carries no text."""
    text = str(error)
    if text:
        return text
    if isinstance(error, KeyboardInterrupt):
        # Python's default SIGINT handler raises KeyboardInterrupt without arguments.
        return "interrupted by SIGINT"
    return type(error).__name__


def add_dockerfile_path(error: BaseException, dockerfile: str | os.PathLike[str]) -> None:
    """Set the Dockerfile path on an error that names only a line, so its message reads `PATH:LINE: ...`."""
    located_types = (BuildError, SourceNotFoundError, DockerfileError)
    if isinstance(error, located_types) and error.line is not None and error.path is None:
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
    message_names_instruction = True

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
        super().__init__(message, line=line, instruction=instruction)
        self.exit_code = exit_code
        self.output_tail = output_tail
        self.timed_out = timed_out


class RunProgramMissing(BuildError):
    """The shell or program a RUN step starts is not in the stage's root file system.

    Found before the sandbox starts, because the sandbox reports it only as a
    failed `execvp` with exit code 1. `program` is the path or name looked up.
    """

    message_names_instruction = True

    def __init__(self, instruction: str, message: str, *, program: str, hint: str, line: int | None) -> None:
        super().__init__(f"`{instruction}` cannot run: {message}", hint=hint, line=line, instruction=instruction)
        self.program = program


class CopySourceNotFound(BuildError):
    """A COPY or ADD source does not exist (or a wildcard matched no file)."""

    default_hint = SourceNotFoundError.hint
    # The key engine's SourceNotFoundError reads the same, whichever of the two finds the gap first.
    message_names_instruction = True

    def __init__(self, source: str, *, line: int | None, origin: str) -> None:
        super().__init__(missing_source_message(source, origin), line=line)
        self.source = source
        self.origin = origin


class CopyError(BuildError):
    """A COPY or ADD could not be carried out (bad destination, bad archive, ...)."""

    default_hint = "Fix the sources or the destination of the COPY or ADD on the line the error names."


class ChecksumMismatch(BuildError):
    """The bytes downloaded by `ADD --checksum` have a different digest."""

    default_hint = "Update the --checksum value or check that the URL serves the intended file."


class InstructionError(BuildError):
    """An instruction's arguments cannot be applied (bad USER, bad HEALTHCHECK flag, ...)."""

    default_hint = "Fix the instruction on the line the error names."


class InstructionFailed(BuildError):
    """The host reported an error (an OSError) while an instruction ran or its files were saved."""

    default_hint = (
        "Check the path named above, and the free space and permissions of the build's work directory."
    )


def instruction_failed(error: OSError, *, line: int | None, instruction: str) -> InstructionFailed:
    """Wrap an OSError raised while `instruction` ran, with the hint its errno calls for."""
    if error.errno == errno.E2BIG:
        # Linux rejects an exec whose single argument exceeds MAX_ARG_STRLEN (32 pages, 128 KiB
        # with 4 KiB pages) or whose arguments and environment together exceed ARG_MAX.
        size = len(instruction.encode("utf-8", "surrogateescape"))
        return InstructionFailed(
            f"the instruction ({size} bytes) is too long for the argument list of the sandbox: {error}",
            hint=(
                "Split the RUN into shorter ones, or COPY its commands into the image as a script "
                "and RUN that, because Linux limits one argument to 128 KiB."
            ),
            line=line,
            instruction=instruction,
        )
    return InstructionFailed(str(error), line=line, instruction=instruction)


class PlatformMismatch(BuildError):
    """A base image's config names another os, architecture or variant than the build's platform.

    `reference` is the base image, `requested` the build's platform and
    `available` the platform the image's config names.
    """

    default_hint = (
        "Pass --platform with the image's platform, or use a base image that is built for the requested one."
    )

    def __init__(self, message: str, *, reference: str, requested: str, available: str,
                 line: int | None = None, instruction: str | None = None) -> None:
        super().__init__(message, line=line, instruction=instruction)
        self.reference = reference
        self.requested = requested
        self.available = available
