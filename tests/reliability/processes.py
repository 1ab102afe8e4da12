"""Finding host processes by a marker in their command line, for left-behind checks."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

LEFTOVER_WAIT = 5.0  # seconds for killed sandboxes and their children to disappear


def processes_matching(marker: str) -> list[str]:
    """Return "pid: command line" of every other process whose command line contains `marker`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path("/proc", pid, "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            words = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{pid}: {words}")
    return found


def wait_for_no_leftovers(markers: Sequence[str]) -> list[str]:
    """Wait up to LEFTOVER_WAIT for the processes matching `markers` to end; return those left."""
    deadline = time.monotonic() + LEFTOVER_WAIT
    while True:
        leftovers = [line for marker in markers for line in processes_matching(marker)]
        if not leftovers or time.monotonic() > deadline:
            return leftovers
        time.sleep(0.05)
