"""The one place where library errors become a message and an exit code."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

logger = logging.getLogger("cachelab")

# Exit codes: 1 = the input or a service was at fault, 130 = interrupted,
# 141 = the reader of stdout went away (128 + SIGPIPE, as a shell reports it).
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


@dataclass
class Outcome:
    code: int = 0


def _known_error_types() -> tuple[type[BaseException], ...]:
    # Each layer owns its error family; they are collected here, lazily, so that a
    # missing optional layer never breaks the CLI.
    names = (
        ("cachelab.dockerfile.errors", "DockerfileError"),
        ("cachelab.keys.errors", "KeyEngineError"),
        ("cachelab.oci.errors", "OCIError"),
        ("cachelab.plan.errors", "PlanError"),
        ("cachelab.build.errors", "BuildError"),
        ("cachelab.corpus.errors", "CorpusError"),
        ("cachelab.errors", "CachelabError"),
    )
    found: list[type[BaseException]] = []
    for module_name, class_name in names:
        try:
            module = __import__(module_name, fromlist=[class_name])
        except ImportError:
            continue
        found.append(getattr(module, class_name))
    return tuple(found)


@contextlib.contextmanager
def error_boundary() -> Iterator[Outcome]:
    """Turn a known library error into one line on stderr and exit status 1.

    The error families are imported only when an exception arrives, so a command
    that succeeds does not pay for importing every layer.
    """
    outcome = Outcome()
    try:
        yield outcome
        # Output still buffered is written here, so a closed pipe fails inside the boundary.
        sys.stdout.flush()
    except KeyboardInterrupt:
        print("cachelab: interrupted", file=sys.stderr)
        outcome.code = EXIT_INTERRUPTED
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_reader_gone():
            # A reader such as `head -1` stopped reading, which is no error of cachelab.
            _discard_stdout()
            outcome.code = EXIT_BROKEN_PIPE
            return
        # File-system and network errors outside any layer's own family still get a
        # readable line naming the path or address.
        if not isinstance(exc, (*_known_error_types(), OSError)):
            raise
        print(f"cachelab: error: {exc}", file=sys.stderr)
        hint = getattr(exc, "hint", None)
        if hint:
            print(f"cachelab: hint: {hint}", file=sys.stderr)
        logger.debug("traceback of the error above", exc_info=True)
        outcome.code = EXIT_FAILURE


def _stdout_reader_gone() -> bool:
    """Return True when stdout is a pipe whose read end is closed.

    A BrokenPipeError may also come from a socket or a child process's stdin,
    and those stay ordinary errors.
    """
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False
    import select

    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    # Linux reports POLLERR on the write end of a pipe that has no reader left.
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so flushing it again at exit cannot raise BrokenPipeError."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)
