"""A minimal busybox root filesystem, the base image of tests and the offline demo.

It uses a statically linked busybox (Debian's busybox-static installs it as
/bin/busybox), so the rootfs runs with no shared libraries.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import subprocess
from pathlib import Path

from cachelab.oci.errors import OCIError

logger = logging.getLogger(__name__)

DEFAULT_BUSYBOX = "/bin/busybox"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_CMD = ["sh"]
# A fixed timestamp for every entry, so the same busybox gives the same layer digest.
EPOCH = 0

_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
_GROUP = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nnogroup:x:65534:\n"

ELF_MAGIC = b"\x7fELF"
PT_INTERP = 3  # program header type naming the dynamic loader; a static executable has none
ELF32_HEADER_SIZE = 52
ELF64_HEADER_SIZE = 64
# `busybox --list` prints one name per line and finishes at once; this bounds a binary that hangs.
LIST_TIMEOUT_S = 30
BUSYBOX_HINT = "Install Debian's busybox-static and pass /bin/busybox, or another statically linked busybox."


class InvalidBusybox(OCIError):
    """A file given as the busybox binary that is not a static busybox for this machine."""

    default_hint = BUSYBOX_HINT


def check_static_elf(path: str | os.PathLike[str]) -> None:
    """Raise InvalidBusybox unless `path` is an ELF executable without a dynamic loader (PT_INTERP).

    The rootfs contains no shared libraries, so a dynamically linked binary
    would fail to start in every RUN.
    """
    with open(path, "rb") as stream:
        header = stream.read(ELF64_HEADER_SIZE)
        if len(header) < ELF32_HEADER_SIZE or header[:4] != ELF_MAGIC:
            raise InvalidBusybox(f"busybox binary {path} is not an ELF executable")
        # e_ident: byte 4 is the class (1: 32-bit, 2: 64-bit), byte 5 the byte order (1: little endian).
        order = "<" if header[5] == 1 else ">"
        is_64_bit = header[4] == 2
        if is_64_bit and len(header) < ELF64_HEADER_SIZE:
            raise InvalidBusybox(f"busybox binary {path} is a truncated ELF file")
        if is_64_bit:
            phoff, = struct.unpack_from(order + "Q", header, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 54)
        else:
            phoff, = struct.unpack_from(order + "I", header, 28)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 42)
        for index in range(phnum):
            stream.seek(phoff + index * phentsize)
            entry = stream.read(4)
            if len(entry) < 4:
                raise InvalidBusybox(f"busybox binary {path} is a truncated ELF file")
            if struct.unpack(order + "I", entry)[0] == PT_INTERP:
                raise InvalidBusybox(f"busybox binary {path} is dynamically linked, but the rootfs has no "
                                     "shared libraries")


def busybox_applets(busybox: str = DEFAULT_BUSYBOX) -> list[str]:
    """Return the applet names `busybox --list` prints; raise InvalidBusybox when it fails or lists no `sh`."""
    try:
        # busybox picks the applet by argv[0], so a copy named otherwise must still be called busybox.
        result = subprocess.run(["busybox", "--list"], executable=busybox, capture_output=True, text=True,
                                check=False, timeout=LIST_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InvalidBusybox(f"cannot run busybox binary {busybox} --list: {error}") from error
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[:1]
        raise InvalidBusybox(
            f"{busybox} --list failed with exit code {result.returncode}"
            + (f" ({detail[0]})" if detail else "")
            + ", so it is not a busybox"
        )
    applets = [name for name in result.stdout.split() if name and "/" not in name]
    if "sh" not in applets:
        raise InvalidBusybox(f"{busybox} --list names no `sh` applet, so it is not a busybox with a shell")
    return applets


def busybox_rootfs(dest: str | os.PathLike[str], *, busybox: str = DEFAULT_BUSYBOX) -> Path:
    """Build a busybox rootfs in `dest` (created; must be empty or absent) and return it.

    Raises InvalidBusybox when `busybox` is not a statically linked busybox that
    runs on this machine.

    The tree has /bin/busybox, one symlink per applet in /bin, /etc/passwd and
    /etc/group for root, daemon and nobody, /tmp (mode 1777), /root, /dev, /proc,
    /sys, /usr/bin and /var. Every entry's mtime is the Unix epoch.
    """
    if not os.path.isfile(busybox):
        raise FileNotFoundError(f"busybox binary {busybox} not found; install Debian's busybox-static")
    check_static_elf(busybox)
    applets = busybox_applets(busybox)
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise FileExistsError(f"rootfs directory {root} is not empty")

    for directory in ("bin", "etc", "root", "dev", "proc", "sys", "usr/bin", "usr/sbin", "sbin", "var", "tmp"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(busybox, root / "bin" / "busybox")
    os.chmod(root / "bin" / "busybox", 0o755)
    for applet in applets:
        link = root / "bin" / applet
        if applet != "busybox" and not link.exists():
            os.symlink("busybox", link)
    (root / "etc" / "passwd").write_text(_PASSWD)
    (root / "etc" / "group").write_text(_GROUP)
    os.chmod(root / "tmp", 0o1777)
    os.chmod(root / "root", 0o700)

    for path in [root, *sorted(root.rglob("*"))]:
        os.utime(path, (EPOCH, EPOCH), follow_symlinks=False)
    logger.debug("built busybox rootfs in %s", root)
    return root
