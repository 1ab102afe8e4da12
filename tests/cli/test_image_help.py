"""`cachelab image --help` states the registry client's timeout and retry defaults."""

from __future__ import annotations

from cachelab.cli.image import REGISTRY_ENVIRONMENT_HELP
from cachelab.oci import registry


def test_help_matches_registry_defaults() -> None:
    delays = [registry.BACKOFF_BASE * 2 ** attempt for attempt in range(registry.DEFAULT_RETRIES)]
    worst_case = (registry.DEFAULT_RETRIES + 1) * registry.DEFAULT_TIMEOUT_S + sum(delays)

    assert f"(default {registry.DEFAULT_TIMEOUT_S:g};" in REGISTRY_ENVIRONMENT_HELP
    assert f"at most {registry.CONNECT_TIMEOUT_S:g} to connect" in REGISTRY_ENVIRONMENT_HELP
    assert f"{registry.RETRIES_ENV} times (default {registry.DEFAULT_RETRIES})" in REGISTRY_ENVIRONMENT_HELP
    assert "after 0.5, 1 and 2 s" in REGISTRY_ENVIRONMENT_HELP
    assert delays == [0.5, 1.0, 2.0]
    assert f"about {round(worst_case)} s" in REGISTRY_ENVIRONMENT_HELP
