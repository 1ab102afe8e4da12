"""RUN steps that try to leave their sandbox: host files, host processes, capabilities, network.

These extend tests/build/test_sandbox.py with attempts an image author could
make on purpose. They try symlinks and /proc paths to host files, detached and
double-forked processes, signals to every visible process, and mounts and
device nodes as root. A RUN inside a real build tries a network connection.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cachelab.build.sandbox import RunRequest, Sandbox
from cachelab.build.users import UserIds
from tests.fixtures.builder import ExampleBuilder
from tests.reliability.processes import wait_for_no_leftovers

pytestmark = pytest.mark.sandbox

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Capabilities that reach beyond the sandbox when the builder runs as root
# (bit numbers from linux/capability.h): reading any inode by handle, raw I/O,
# module loading, ptrace, mounts and most of the kernel (SYS_ADMIN), reboot,
# the clock, device nodes, the host network when --network=host, BPF.
HOST_CAPABILITIES = {
    "CAP_DAC_READ_SEARCH": 2, "CAP_NET_ADMIN": 12, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17,
    "CAP_SYS_PTRACE": 19, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_TIME": 25, "CAP_MKNOD": 27,
    "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_BPF": 39,
}


def run_sh(sandbox: Sandbox, root: Path, script: str, *, uid: int = 0) -> tuple[int, list[str]]:
    user = UserIds(uid, uid) if uid else UserIds(0, 0)
    request = RunRequest(argv=("/bin/sh", "-c", script), env=(PATH_ENV,), user=user)
    result = sandbox.run(root, request)
    return result.exit_code, result.output_tail


@pytest.mark.parametrize(
    "launch",
    [
        "sh -c 'touch /tmp/up; sleep 300; true' {marker} &",
        "setsid sh -c 'touch /tmp/up; sleep 300; true' {marker} &",
        "sh -c 'touch /tmp/up; sleep 300; true' {marker} </dev/null >/dev/null 2>&1 &",
        "( ( sh -c 'touch /tmp/up; sleep 300; true' {marker} & ) & )",
        "trap '' HUP TERM; sh -c 'trap \"\" HUP TERM; touch /tmp/up; sleep 300; true' {marker} &",
    ],
    ids=["background", "setsid", "closed-stdio", "double-fork", "ignoring-signals"],
)
def test_detached_processes_end_with_run(sandbox: Sandbox, busybox_root: Path, launch: str) -> None:
    marker = f"cachelab-escapee-{uuid.uuid4().hex[:8]}"
    # The RUN waits until its detached child has started, so the check below is not vacuous.
    # The wait is bounded (100 x 0.05 s), so a launch that fails cannot hang the test.
    script = launch.format(marker=marker) + (
        "\ni=0; while [ ! -f /tmp/up ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done; "
        "[ -f /tmp/up ] && echo started"
    )

    code, output = run_sh(sandbox, busybox_root, script)

    assert code == 0, output
    assert output[-1] == "started"
    assert wait_for_no_leftovers([marker]) == []


@pytest.fixture
def host_process() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    marker = f"cachelab-host-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(["sh", "-c", "sleep 300; true", marker])
    yield process, marker
    process.kill()
    process.wait()


def test_host_processes_invisible(sandbox: Sandbox, busybox_root: Path,
                                  host_process: tuple[subprocess.Popen[bytes], str]) -> None:
    process, marker = host_process
    # A bracket expression keeps the pattern from matching the RUN's own command line.
    pattern = f"{marker[:-1]}[{marker[-1]}]"

    code, output = run_sh(
        sandbox, busybox_root,
        f"cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -c '{pattern}'; "
        "ls -d /proc/[0-9]* | wc -l; kill -9 -1 2>/dev/null; echo signalled",
    )

    assert output[0] == "0"
    assert int(output[1]) < 10
    assert output[-1] == "signalled" or code != 0
    assert process.poll() is None, "a RUN step killed a host process"


def test_symlinks_and_proc_cannot_reach_host_files(sandbox: Sandbox, busybox_root: Path, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_text("host secret\n")
    (busybox_root / "escape").symlink_to(host)
    (busybox_root / "climb").symlink_to("../../../../../../../../" + str(host).lstrip("/"))

    _, output = run_sh(
        sandbox, busybox_root,
        f"for path in /escape/secret /climb/secret /proc/1/root{host}/secret /proc/self/root{host}/secret "
        f"/proc/self/cwd/../../../{host}/secret; do cat $path 2>/dev/null && echo READ $path; done; "
        "echo planted > /escape/planted 2>/dev/null; echo planted > /climb/planted 2>/dev/null; "
        "ln /escape/secret /hardlink 2>/dev/null && echo LINKED; echo done",
    )

    assert output[-1] == "done"
    assert not any(line.startswith("READ") for line in output), output
    assert "LINKED" not in output
    assert sorted(path.name for path in host.iterdir()) == ["secret"]
    assert (host / "secret").read_text() == "host secret\n"


def _effective_capabilities(output: list[str]) -> int:
    line = next(line for line in output if line.startswith("CapEff:"))
    return int(line.split()[1], 16)


def test_root_run_lacks_host_capabilities(sandbox: Sandbox, busybox_root: Path) -> None:
    _, output = run_sh(
        sandbox, busybox_root,
        "grep CapEff /proc/self/status; mkdir -p /mnt/probe; "
        "mount -t tmpfs none /mnt/probe 2>/dev/null && echo MOUNTED; "
        "mknod /tmp/disk b 8 0 2>/dev/null && echo MKNOD; "
        "chown 1000:1000 /tmp && echo CHOWNED",
    )

    effective = _effective_capabilities(output)
    host_capabilities_held = sorted(name for name, bit in HOST_CAPABILITIES.items() if effective & (1 << bit))
    assert host_capabilities_held == []
    assert "MOUNTED" not in output
    assert "MKNOD" not in output
    # Ordinary root work inside the root still works.
    assert "CHOWNED" in output


class Listener:
    """A TCP listener on 127.0.0.1 in the host that records every connection."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(4)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def write_dockerfile(example: ExampleBuilder, text: str) -> None:
    example.dockerfile.write_text(text)


def test_build_run_cannot_reach_host_listener(builder: Callable[..., ExampleBuilder], listener: Listener) -> None:
    example = builder("two-stage")
    write_dockerfile(example, (
        "FROM busybox\n"
        f"RUN if echo hi | nc -w 2 127.0.0.1 {listener.port}; then exit 1; fi\n"
    ))

    built = example.build("no-cache")

    assert built.result.image_digest is not None
    assert listener.accepted == 0


def test_build_run_network_host_reaches_listener(builder: Callable[..., ExampleBuilder], listener: Listener) -> None:
    # The control for the test above: with --network=host the same probe connects.
    example = builder("two-stage")
    write_dockerfile(example, (
        "FROM busybox\n"
        f"RUN --network=host echo hi | nc -w 2 127.0.0.1 {listener.port}\n"
    ))

    example.build("no-cache")

    assert listener.accepted == 1
