"""Set up a RUN step inside namespaces made by util-linux `unshare`, then exec it.

Run as `python3 -I _nsinit.py SPEC_JSON` as the first process of new mount, PID,
IPC, UTS and (usually) network namespaces, as root. It mounts /proc, a minimal
/dev and the requested bind and tmpfs mounts under the root, chroots into it,
switches to the requested uid, gid and groups, limits the capabilities a uid 0
command gets to the spec's list and execs the command. It imports
nothing of cachelab, so it runs with the interpreter's isolated mode.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import sys

# os.execvpe imports `warnings` when it searches PATH; after the chroot the
# interpreter's library is gone, so the module must be loaded before it.
import warnings  # noqa: F401

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_CAPBSET_DROP = 24

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(None, use_errno=True)


def limit_capabilities(keep: set[int]) -> None:
    """Drop every capability not in `keep` from the bounding set.

    A uid 0 process gets exactly its bounding set at execve (its inheritable set
    is empty), so the command runs with `keep` and nothing more.
    """
    # Binary mode: after the chroot the interpreter cannot load text codecs.
    with open("/proc/sys/kernel/cap_last_cap", "rb") as stream:
        last = int(stream.read())
    for capability in range(last + 1):
        if capability not in keep and _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"dropping capability {capability}: {os.strerror(error)}")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = _libc.mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target} failed: {os.strerror(errno)}")


def inside(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def make_target(path: str, is_file: bool) -> None:
    if is_file:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            with open(path, "ab"):
                pass
    else:
        os.makedirs(path, exist_ok=True)


def mount_dev(root: str) -> None:
    dev = inside(root, "/dev")
    make_target(dev, False)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755")
    for name in DEVICES:
        node = os.path.join(dev, name)
        make_target(node, True)
        mount(f"/dev/{name}", node, None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    shm = os.path.join(dev, "shm")
    os.mkdir(shm)
    mount("tmpfs", shm, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")


def main(spec_text: str) -> None:
    spec = json.loads(spec_text)
    root = spec["root"]
    mount("none", "/", None, MS_REC | MS_PRIVATE)

    proc = inside(root, "/proc")
    make_target(proc, False)
    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount_dev(root)

    for item in spec["mounts"]:
        target = inside(root, item["target"])
        if item["kind"] == "tmpfs":
            make_target(target, False)
            mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
            continue
        make_target(target, item["is_file"])
        mount(item["source"], target, None, MS_BIND | MS_REC)
        if item["readonly"]:
            mount(item["source"], target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)

    socket.sethostname(spec["hostname"])
    os.chroot(root)
    os.chdir(spec["workdir"])
    os.setgroups(spec["groups"])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    if spec["uid"] == 0:
        limit_capabilities(set(spec["capabilities"]))
    env = dict(item.split("=", 1) for item in spec["env"])
    argv = spec["argv"]
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        print(f"cannot run {argv[0]!r}: {exc.strerror}", file=sys.stderr)
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv[1])
