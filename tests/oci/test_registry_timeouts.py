"""A registry that accepts connections and never responds: timeouts, retries and their wording."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cachelab.oci.errors import OCIError, RegistryUnavailable
from cachelab.oci.reference import parse_registry_reference
from cachelab.oci.registry import RETRIES_ENV, TIMEOUT_ENV, RegistryClient
from tests.oci.scripted_registry import HungServer


@pytest.fixture
def hung() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.close()


def test_hung_registry_error_names_timeout_and_attempts(hung: HungServer) -> None:
    delays: list[float] = []
    client = RegistryClient(hung.address, anonymous=True, timeout=0.2, sleep=delays.append)
    reference = parse_registry_reference(f"{hung.address}/base/app:v1")

    with client, pytest.raises(RegistryUnavailable) as raised:
        client.get_manifest(reference)

    message = str(raised.value)
    assert message.startswith(
        f"registry {hung.address} timed out after 4 attempts (the last waited 0.2 s for response data) "
        f"during manifest GET for {reference}"
    )
    assert message.count("timed out") == 1
    assert delays == [0.5, 1.0, 2.0]
    assert len(hung.connections) == 4
    assert raised.value.hint is not None
    assert TIMEOUT_ENV in raised.value.hint
    assert "Start the registry" not in raised.value.hint


def test_timeout_and_retries_from_environment(hung: HungServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, "0.2")
    monkeypatch.setenv(RETRIES_ENV, "1")
    delays: list[float] = []
    client = RegistryClient(hung.address, anonymous=True, sleep=delays.append)

    with client, pytest.raises(RegistryUnavailable) as raised:
        client.get_manifest(parse_registry_reference(f"{hung.address}/app:v1"))

    assert "timed out after 2 attempts (the last waited 0.2 s for response data)" in str(raised.value)
    assert client.timeout.read == 0.2
    assert client.timeout.connect == 0.2
    assert client.max_retries == 1
    assert delays == [0.5]


def test_default_timeout_and_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)
    monkeypatch.delenv(RETRIES_ENV, raising=False)

    with RegistryClient("127.0.0.1:1", anonymous=True) as client:
        assert client.timeout.read == 30.0
        assert client.timeout.connect == 10.0
        assert client.max_retries == 3


@pytest.mark.parametrize(("name", "value"), [
    (TIMEOUT_ENV, "soon"), (TIMEOUT_ENV, "0"), (TIMEOUT_ENV, "-5"), (TIMEOUT_ENV, "nan"),
    (RETRIES_ENV, "-1"), (RETRIES_ENV, "2.5"), (RETRIES_ENV, "many"),
])
def test_invalid_environment_value_is_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(OCIError) as raised:
        RegistryClient("127.0.0.1:1", anonymous=True)

    assert f"invalid ${name} {value!r}" in str(raised.value)
    assert raised.value.hint is not None
    assert name in raised.value.hint
