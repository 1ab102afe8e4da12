"""Fixtures of the reliability tests: a fault-injecting proxy in front of the test registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cachelab.oci import registry as registry_module
from tests.build.test_sandbox import sandbox  # noqa: F401 (a fixture over both RUN sandbox backends)
from tests.fixtures.registry import RegistryServer
from tests.reliability.faultproxy import FaultProxy
from tests.reliability.tally import TALLY

# Backoff before the first retry in these tests; the client's default is 0.5 s,
# which would make every injected fault cost seconds of sleeping.
FAST_BACKOFF = 0.01


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "BACKOFF_BASE", FAST_BACKOFF)


@pytest.fixture
def fault_proxy(registry: RegistryServer, fast_retries: None) -> Iterator[FaultProxy]:
    """A proxy to the session's anonymous registry; it injects only the faults a test adds."""
    proxy = FaultProxy(registry.address)
    yield proxy
    proxy.close()
    _count_faults(proxy)


@pytest.fixture
def token_proxy(registry: RegistryServer, fast_retries: None) -> Iterator[FaultProxy]:
    """A proxy that returns 401 for every /v2/ request without a token from its /token endpoint."""
    proxy = FaultProxy(registry.address, require_token=True)
    yield proxy
    proxy.close()
    _count_faults(proxy)


def _count_faults(proxy: FaultProxy) -> None:
    for kind, count in proxy.injected.items():
        TALLY[f"faults injected: {kind}"] += count


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY:
        return
    terminalreporter.section("reliability figures")
    for name, count in sorted(TALLY.items()):
        terminalreporter.write_line(f"{name}: {count}")
