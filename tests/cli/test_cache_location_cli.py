"""A cache location without a registry host is a local directory in `build`, `plan` and `cache ls`."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from cachelab.cli import main
from cachelab.oci import registry
from tests.fixtures.paths import TESTS_DIR

EXAMPLE = TESTS_DIR.parent / "datasets" / "examples" / "two-stage"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def network_use(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record, and fail, every registry client made and every lookup of a host that is not loopback."""
    used: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK_HOSTS:
            used.append(f"getaddrinfo {host}")
            raise OSError(f"test blocks the lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded_client(self: Any, host: str, *args: Any, **kwargs: Any) -> None:
        used.append(f"RegistryClient {host}")
        raise AssertionError(f"a registry client for {host} was created")

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(registry.RegistryClient, "__init__", guarded_client)
    return used


def test_build_bare_name_local(tmp_path: Path, image_store: Path, network_use: list[str],
                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", str(EXAMPLE), "--quiet", "--image-store", str(image_store),
                 "--cache-repo", "newcache"])
    err = capsys.readouterr().err

    assert code == 0, err
    assert network_use == []
    assert (tmp_path / "newcache" / "oci-layout").is_file()
    assert "cache operations failed" not in err


def test_build_two_components_local(tmp_path: Path, image_store: Path, network_use: list[str]) -> None:
    code = main(["build", str(EXAMPLE), "--quiet", "--image-store", str(image_store),
                 "--cache-repo", "team/cache"])

    assert code == 0
    assert network_use == []
    assert (tmp_path / "team" / "cache" / "oci-layout").is_file()


def test_build_host_without_repository(network_use: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", str(EXAMPLE), "--quiet", "--cache-repo", "localhost:5000"])
    err = capsys.readouterr().err

    assert code == 1
    assert "cache store 'localhost:5000': it names a registry host but no repository" in err
    assert network_use == []


def test_plan_bare_name_missing(network_use: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plan", str(EXAMPLE / "Dockerfile"), "--context", str(EXAMPLE), "--cache", "bogus"])
    err = capsys.readouterr().err

    assert code == 1
    assert "cache store bogus does not exist" in err
    assert network_use == []


def test_cache_ls_bare_name_missing(network_use: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cache", "ls", "mystore"])
    err = capsys.readouterr().err

    assert code == 1
    assert "cache store mystore does not exist" in err
    assert network_use == []


def test_cache_ls_registry_form_uses_client(network_use: list[str]) -> None:
    # The guard raises in the client's constructor, so no request is sent to the unused port.
    with pytest.raises(AssertionError):
        main(["cache", "ls", "127.0.0.1:1/cache"])

    assert network_use == ["RegistryClient 127.0.0.1:1"]
