"""The busybox rootfs: which files are accepted as its static busybox, and the CLI's message."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.oci.busybox import DEFAULT_BUSYBOX, InvalidBusybox, busybox_rootfs

DYNAMIC_BINARY = "/bin/ls"


def needs(path: str) -> None:
    if not os.path.isfile(path):
        pytest.skip(f"needs {path}")


def write_elf_without_program_headers(path: Path) -> Path:
    """Write a 64-bit little-endian ELF header with no program headers, which no kernel can run."""
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4], header[5], header[6] = 2, 1, 1  # 64-bit, little endian, ELF version 1
    struct.pack_into("<HH", header, 16, 2, 0x3E)  # ET_EXEC, x86-64
    struct.pack_into("<HH", header, 52, 64, 56)  # header size, program header entry size
    path.write_bytes(bytes(header))
    path.chmod(0o755)
    return path


def test_dynamic_binary_rejected(tmp_path: Path) -> None:
    needs(DYNAMIC_BINARY)

    with pytest.raises(InvalidBusybox) as raised:
        busybox_rootfs(tmp_path / "rootfs", busybox=DYNAMIC_BINARY)

    assert str(raised.value) == (
        f"busybox binary {DYNAMIC_BINARY} is dynamically linked, but the rootfs has no shared libraries"
    )
    assert "busybox-static" in (raised.value.hint or "")
    assert not (tmp_path / "rootfs").exists()


def test_script_rejected(tmp_path: Path) -> None:
    script = tmp_path / "busybox"
    script.write_text("#!/bin/sh\necho sh\n")
    script.chmod(0o755)

    with pytest.raises(InvalidBusybox) as raised:
        busybox_rootfs(tmp_path / "rootfs", busybox=str(script))

    assert str(raised.value) == f"busybox binary {script} is not an ELF executable"


def test_unrunnable_elf_rejected(tmp_path: Path) -> None:
    binary = write_elf_without_program_headers(tmp_path / "busybox")

    with pytest.raises(InvalidBusybox) as raised:
        busybox_rootfs(tmp_path / "rootfs", busybox=str(binary))

    assert str(raised.value).startswith(f"cannot run busybox binary {binary} --list: ")


def test_renamed_busybox_accepted(tmp_path: Path) -> None:
    needs(DEFAULT_BUSYBOX)
    renamed = tmp_path / "bb-static"
    shutil.copy2(DEFAULT_BUSYBOX, renamed)

    root = busybox_rootfs(tmp_path / "rootfs", busybox=str(renamed))

    assert (root / "bin" / "sh").is_symlink()
    assert os.readlink(root / "bin" / "sh") == "busybox"


def test_cli_names_invalid_busybox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    needs(DYNAMIC_BINARY)

    code = main(["image", "busybox", f"oci:{tmp_path}/store:1", "--busybox", DYNAMIC_BINARY])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: busybox binary {DYNAMIC_BINARY} is dynamically linked" in err
    assert "cachelab: hint: Install Debian's busybox-static" in err
    assert "Traceback" not in err
    assert not (tmp_path / "store").exists()
