from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from cachelab.oci.auth import Credentials, load_credentials, parse_challenge


def write_config(directory: Path, document: dict) -> None:
    (directory / "config.json").write_text(json.dumps(document))


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return tmp_path


def test_auths_base64(docker_config: Path) -> None:
    token = base64.b64encode(b"alice:pa:ss").decode()
    write_config(docker_config, {"auths": {"registry.example:5000": {"auth": token}}})
    assert load_credentials("registry.example:5000") == Credentials("alice", "pa:ss")
    assert load_credentials("other.example") is None


def test_docker_hub_legacy_key(docker_config: Path) -> None:
    token = base64.b64encode(b"bob:secret").decode()
    write_config(docker_config, {"auths": {"https://index.docker.io/v1/": {"auth": token}}})
    assert load_credentials("docker.io") == Credentials("bob", "secret")


def test_invalid_base64_ignored(docker_config: Path) -> None:
    write_config(docker_config, {"auths": {"r.example": {"auth": "!!not base64!!"}}})
    assert load_credentials("r.example") is None


def test_missing_config(docker_config: Path) -> None:
    assert load_credentials("r.example") is None


def test_password_not_in_repr() -> None:
    assert "hunter2" not in repr(Credentials("carol", "hunter2"))


def _install_helper(directory: Path, name: str, script: str) -> None:
    helper = directory / f"docker-credential-{name}"
    helper.write_text("#!/bin/sh\n" + script)
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)


def test_credential_helper(docker_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = docker_config / "bin"
    bin_dir.mkdir()
    _install_helper(bin_dir, "fake", 'read server\n'
                    'echo "{\\"ServerURL\\":\\"$server\\",\\"Username\\":\\"helper-user\\",\\"Secret\\":\\"$server-pw\\"}"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    write_config(docker_config, {"credHelpers": {"r.example": "fake"}})

    assert load_credentials("r.example") == Credentials("helper-user", "r.example-pw")


def test_credential_helper_miss(docker_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = docker_config / "bin"
    bin_dir.mkdir()
    _install_helper(bin_dir, "empty", "echo 'credentials not found in native keychain'\nexit 1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    write_config(docker_config, {"credsStore": "empty"})
    assert load_credentials("r.example") is None


def test_missing_helper_is_no_credentials(docker_config: Path) -> None:
    write_config(docker_config, {"credsStore": "not-installed-anywhere"})
    assert load_credentials("r.example") is None


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        ('Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"', "bearer",
         {"realm": "https://auth.example/token", "service": "reg", "scope": "repository:a:pull"}),
        ('Basic realm="registry"', "basic", {"realm": "registry"}),
        ("Bearer realm=https://auth.example/token", "bearer", {"realm": "https://auth.example/token"}),
    ],
)
def test_parse_challenge(header: str, scheme: str, params: dict[str, str]) -> None:
    challenge = parse_challenge(header)
    assert challenge is not None
    assert challenge.scheme == scheme
    assert challenge.params == params


def test_parse_empty_challenge() -> None:
    assert parse_challenge("") is None
