"""Run one command on a stage root, isolated from the host.

Two backends, chosen by `Sandbox(backend=None)`:

* `bwrap` (bubblewrap): the root is bind-mounted read-write as `/`, with a new
  /proc, a minimal /dev (null, zero, full, random, urandom, tty, shm), and
  new PID, IPC, UTS and cgroup namespaces. Run as root with uid 0 it needs no
  user namespace, so file owners are real. For any other uid bubblewrap has to
  map that uid to the caller's own in a user namespace; files the command
  creates then belong to the caller on disk, and `Sandbox` gives them back to
  the requested uid and gid after the run (see `_restore_owners`).
* `unshare` (root only): util-linux `unshare` makes new mount, PID, IPC, UTS and
  network namespaces and `_nsinit.py` mounts, chroots and switches to the real
  uid, gid and groups. As root, a non-root USER prefers this backend, because
  it checks file permissions against the real ids.

The network is a new namespace with nothing but a loopback interface unless the
request allows the host network. Builds are offline by default, which `RUN
--network=none` also asks for, and only `RUN --network=host` opts out.

A command run as uid 0 keeps only the capabilities in `RUN_CAPABILITIES`, the
ones ordinary package installs and file ownership changes need. Without this
it would hold the builder's full root capabilities, and CAP_SYS_ADMIN or
CAP_MKNOD alone are enough to mount the host's disk from inside the root.

No process outlives `run()`. The command runs in its own PID namespace, whose
first process (bubblewrap's init, or the command itself under `unshare`) ends
when the command does, and the kernel then kills every process left in it. A
timeout kills the whole process group.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cachelab.build import fsstate
from cachelab.build.errors import SandboxUnavailable
from cachelab.build.users import ROOT, UserIds

logger = logging.getLogger(__name__)

HOSTNAME = "cachelab"
RecordOwner = Callable[[str, int, int], None]
_NSINIT = Path(__file__).with_name("_nsinit.py")
_MAX_LINE = 8192
REDACTED = "****"

# Capabilities a uid 0 command keeps, by name and bit number (linux/capability.h).
# This is Docker's default set without CAP_MKNOD: Docker pairs that one with a
# device cgroup, which this sandbox does not have, so a device node made inside
# the root could open a host disk.
RUN_CAPABILITIES = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_FSETID": 4, "CAP_KILL": 5,
    "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13,
    "CAP_SYS_CHROOT": 18, "CAP_AUDIT_WRITE": 29, "CAP_SETFCAP": 31,
}


@dataclass(frozen=True, slots=True)
class SandboxMount:
    """A mount inside the sandbox: a host path bound at `target`, or a tmpfs."""

    kind: str  # "bind" or "tmpfs"
    target: str  # absolute path inside the root
    source: str | None = None  # host path, for "bind"
    readonly: bool = True

    @property
    def is_file(self) -> bool:
        return self.source is not None and not os.path.isdir(self.source)


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What to run and how: argv, environment (`K=V`), workdir, user, mounts."""

    argv: Sequence[str]
    env: Sequence[str] = ()
    workdir: str = "/"
    user: UserIds = ROOT
    mounts: Sequence[SandboxMount] = ()
    network: bool = False
    timeout_s: float | None = None
    redact: Sequence[str] = ()  # texts replaced by REDACTED in the output kept and logged


@dataclass(frozen=True, slots=True)
class RunResult:
    """How the command ended, and the last lines it printed (stdout and stderr merged)."""

    exit_code: int  # negative: killed by that signal
    output_tail: list[str]
    timed_out: bool = False
    backend: str = ""


def _available(name: str) -> str | None:
    return shutil.which(name)


@dataclass
class Sandbox:
    """Runs commands on stage roots with the best backend this machine offers.

    `backend` forces "bwrap" or "unshare"; `tail_lines` bounds the output kept
    for error messages. Every output line goes to this module's logger at INFO,
    so `cachelab -v build` shows it.
    """

    backend: str | None = None
    tail_lines: int = 20
    _choices: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        choices = []
        if _available("bwrap"):
            choices.append("bwrap")
        if os.geteuid() == 0 and _available("unshare"):
            choices.append("unshare")
        if self.backend is not None:
            if self.backend not in choices:
                raise SandboxUnavailable(f"sandbox backend {self.backend!r} is not available here")
            choices = [self.backend]
        if not choices:
            raise SandboxUnavailable(
                "no sandbox for RUN: bubblewrap (bwrap) is not installed and the "
                "builder does not run as root"
            )
        self._choices = tuple(choices)

    def backend_for(self, request: RunRequest) -> str:
        """Pick the backend for `request` (see the module docstring)."""
        if request.user.uid != 0 and os.geteuid() == 0 and "unshare" in self._choices:
            return "unshare"
        return self._choices[0]

    def run(
        self,
        root: str | os.PathLike[str],
        request: RunRequest,
        *,
        record_owner: RecordOwner | None = None,
    ) -> RunResult:
        """Run `request` on `root` and wait for it; the root is changed in place.

        `record_owner(rel, uid, gid)` receives the owners of files the command
        created when they cannot be set with `lchown` (bubblewrap without root);
        pass the snapshot's owner side table.
        """
        root_str = os.path.realpath(root)
        backend = self.backend_for(request)
        stubs = _missing_stub_paths(root_str, request.mounts)
        uses_userns = backend == "bwrap" and (os.geteuid() != 0 or request.user.uid != 0)
        before = fsstate.scan(root_str) if uses_userns else None

        if backend == "bwrap":
            argv = _bwrap_argv(root_str, request, uses_userns)
        else:
            argv = _unshare_argv(root_str, request)
        logger.debug("running %s with %s: %s", request.argv, backend, argv)
        try:
            result = self._execute(argv, request, backend)
        finally:
            _remove_stubs(root_str, stubs)
        if before is not None:
            _restore_owners(root_str, before, request.user, record_owner)
        return result

    def _execute(self, argv: list[str], request: RunRequest, backend: str) -> RunResult:
        tail: collections.deque[str] = collections.deque(maxlen=self.tail_lines)
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
        timed_out = threading.Event()

        def kill_on_timeout() -> None:
            timed_out.set()
            logger.warning("RUN %s timed out after %ss; killing it", request.argv, request.timeout_s)
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = None
        if request.timeout_s is not None:
            timer = threading.Timer(request.timeout_s, kill_on_timeout)
            timer.daemon = True
            timer.start()
        try:
            assert process.stdout is not None
            with process.stdout:
                for raw in iter(lambda: process.stdout.readline(_MAX_LINE), b""):  # type: ignore[union-attr]
                    line = _mask(raw.decode("utf-8", errors="replace").rstrip("\n"), request.redact)
                    logger.info("| %s", line)
                    tail.append(line)
            exit_code = process.wait()
        finally:
            if timer is not None:
                timer.cancel()
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return RunResult(exit_code, list(tail), timed_out.is_set(), backend)


def _mask(line: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret in line:
            line = line.replace(secret, REDACTED)
    return line


def _bwrap_argv(root: str, request: RunRequest, uses_userns: bool) -> list[str]:
    argv = [
        "bwrap", "--bind", root, "/",
        "--proc", "/proc", "--dev", "/dev",
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--hostname", HOSTNAME,
    ]
    if not request.network:
        argv.append("--unshare-net")
    if uses_userns:
        argv += ["--unshare-user", "--uid", str(request.user.uid), "--gid", str(request.user.gid)]
    else:
        # bubblewrap run as root keeps every capability unless told otherwise.
        argv += ["--cap-drop", "ALL"]
        for name in RUN_CAPABILITIES:
            argv += ["--cap-add", name]
    for mount in request.mounts:
        if mount.kind == "tmpfs":
            argv += ["--tmpfs", mount.target]
        else:
            argv += ["--ro-bind" if mount.readonly else "--bind", str(mount.source), mount.target]
    argv += ["--chdir", request.workdir, "--clearenv"]
    for item in request.env:
        name, _, value = item.partition("=")
        argv += ["--setenv", name, value]
    argv.append("--")
    argv += list(request.argv)
    return argv


def _unshare_argv(root: str, request: RunRequest) -> list[str]:
    spec = {
        "root": root,
        "argv": list(request.argv),
        "env": list(request.env),
        "workdir": request.workdir,
        "uid": request.user.uid,
        "gid": request.user.gid,
        "groups": list(request.user.groups),
        "hostname": HOSTNAME,
        "capabilities": sorted(RUN_CAPABILITIES.values()),
        "mounts": [
            {
                "kind": mount.kind,
                "target": mount.target,
                "source": mount.source,
                "readonly": mount.readonly,
                "is_file": mount.is_file,
            }
            for mount in request.mounts
        ],
    }
    argv = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
            "--ipc", "--uts"]
    if not request.network:
        argv.append("--net")
    argv += ["--", sys.executable, "-I", str(_NSINIT), json.dumps(spec)]
    return argv


def _missing_stub_paths(root: str, mounts: Sequence[SandboxMount]) -> list[str]:
    """List the mount points (and their parents) the sandbox will have to create.

    Both backends create missing mount points inside the root; they are removed
    again after the run so they never reach a snapshot, as BuildKit does.
    """
    targets = ["/proc", "/dev", *(mount.target for mount in mounts)]
    missing: list[str] = []
    for target in targets:
        parts = [part for part in target.split("/") if part]
        for depth in range(1, len(parts) + 1):
            candidate = os.path.join(root, *parts[:depth])
            if not os.path.lexists(candidate) and candidate not in missing:
                missing.append(candidate)
    return missing


def _remove_stubs(root: str, stubs: list[str]) -> None:
    for path in sorted(stubs, key=len, reverse=True):
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            elif os.path.isfile(path) and os.path.getsize(path) == 0:
                os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            # The command wrote into a mount point that was not mounted over;
            # keep its content, it is part of the step's result.
            logger.debug("kept mount point %s: %s", path, exc)


def _restore_owners(
    root: str, before: fsstate.FsState, user: UserIds, record_owner: RecordOwner | None
) -> None:
    """Give inodes created during a user-namespace run to the requested uid and gid.

    In bubblewrap's user namespace only the requested uid exists, mapped to the
    caller's own, so every inode created there belongs to the caller on disk and
    nothing else could have created it. Inodes that existed before keep their
    owner. A new entry in a set-group-ID directory keeps the directory's group.
    Without root the owner goes to `record_owner` instead of `lchown`.
    NOTE: inside such a run, files owned by other ids look like they belong to
    `nobody`, and permission checks use the caller's real id.
    """
    caller = (os.geteuid(), os.getegid())
    known = {(entry.dev, entry.ino) for entry in before.values()}
    after = fsstate.scan(root)
    for rel, entry in after.items():
        if (entry.dev, entry.ino) in known or (entry.uid, entry.gid) != caller:
            continue
        gid = user.gid
        parent = after.get(rel.rpartition("/")[0]) if "/" in rel else None
        if parent is not None and parent.mode & 0o2000:
            gid = parent.gid
        if caller[0] == 0:
            os.lchown(os.path.join(root, rel), user.uid, gid)
        elif record_owner is not None:
            record_owner(rel, user.uid, gid)
