"""`cachelab image import` to a registry that responds to every request with 200 prints no digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.cli import main
from tests.oci.scripted_registry import Reply, ScriptedRegistry


def test_import_to_always_200_registry_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (rootfs / "hello").write_text("hello\n")
    server = ScriptedRegistry(lambda request: Reply(200))
    try:
        status = main(["image", "import", str(rootfs), f"{server.address}/app:v1"])
    finally:
        server.close()

    output = capsys.readouterr()
    assert status != 0
    assert output.out == ""
    assert "failed with HTTP 200" in output.err
    assert "cachelab: hint: Check that the host is an OCI distribution registry" in output.err
    assert not any(request.method == "PUT" and "/manifests/" in request.path for request in server.received)
