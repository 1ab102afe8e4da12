"""A minimal busybox root filesystem, the base image of tests and the offline demo.

It uses a statically linked busybox (Debian's busybox-static installs it as
/bin/busybox), so the rootfs runs with no shared libraries.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

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


def busybox_applets(busybox: str = DEFAULT_BUSYBOX) -> list[str]:
    """Return the applet names `busybox --list` prints."""
    result = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    return [name for name in result.stdout.split() if name and "/" not in name]


def busybox_rootfs(dest: str | os.PathLike[str], *, busybox: str = DEFAULT_BUSYBOX) -> Path:
    """Build a busybox rootfs in `dest` (created; must be empty or absent) and return it.

    The tree has /bin/busybox, one symlink per applet in /bin, /etc/passwd and
    /etc/group for root, daemon and nobody, /tmp (mode 1777), /root, /dev, /proc,
    /sys, /usr/bin and /var. Every entry's mtime is the Unix epoch.
    """
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise FileExistsError(f"rootfs directory {root} is not empty")
    if not os.path.isfile(busybox):
        raise FileNotFoundError(f"busybox binary {busybox} not found; install Debian's busybox-static")

    for directory in ("bin", "etc", "root", "dev", "proc", "sys", "usr/bin", "usr/sbin", "sbin", "var", "tmp"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(busybox, root / "bin" / "busybox")
    os.chmod(root / "bin" / "busybox", 0o755)
    for applet in busybox_applets(busybox):
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
