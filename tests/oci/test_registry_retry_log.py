"""Retry warnings of a registry client: the first per repository, then one count at close."""

from __future__ import annotations

import logging

import httpx
import pytest

from cachelab.oci.errors import RegistryError
from cachelab.oci.reference import parse_registry_reference
from tests.oci.test_registry_faults import HOST, make_client

APP = parse_registry_reference(f"{HOST}/app:v1")
OTHER = parse_registry_reference(f"{HOST}/other:v1")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == "cachelab.oci.registry" and record.levelno == logging.WARNING]


def test_repeated_retries_counted(caplog: pytest.LogCaptureFixture) -> None:
    client, delays = make_client(lambda request: httpx.Response(500), max_retries=2)

    with caplog.at_level(logging.DEBUG, logger="cachelab.oci.registry"):
        for _ in range(3):
            with pytest.raises(RegistryError):
                client.get_manifest(APP)
        during = _warnings(caplog)
        client.close()
    after = _warnings(caplog)

    assert len(delays) == 6
    assert client.stats.snapshot()["manifest GET"].retries == 6
    assert len(during) == 1
    assert during[0].startswith(f"retrying GET https://{HOST}/v2/app/manifests/v1 in 0.5 s (attempt 1 of 2): HTTP 500")
    assert len(after) == 2
    assert after[1] == f"{HOST}/app: 5 more retries after the first retry warning (5 after HTTP 500)"
    debug = [record for record in caplog.records if record.levelno == logging.DEBUG
             and record.getMessage().startswith("retrying GET")]
    assert len(debug) == 5


def test_each_repository_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    client, _ = make_client(lambda request: httpx.Response(503), max_retries=1)

    with caplog.at_level(logging.WARNING, logger="cachelab.oci.registry"):
        for reference in (APP, OTHER, APP, OTHER):
            with pytest.raises(RegistryError):
                client.get_manifest(reference)
        client.close()

    warnings = _warnings(caplog)
    assert [text.split(" in ")[0] for text in warnings[:2]] == [
        f"retrying GET https://{HOST}/v2/app/manifests/v1",
        f"retrying GET https://{HOST}/v2/other/manifests/v1",
    ]
    assert sorted(warnings[2:]) == [
        f"{HOST}/app: 1 more retry after the first retry warning (1 after HTTP 503)",
        f"{HOST}/other: 1 more retry after the first retry warning (1 after HTTP 503)",
    ]


def test_no_summary_without_repeats(caplog: pytest.LogCaptureFixture) -> None:
    responses = iter([httpx.Response(503), httpx.Response(200, content=b"{}")])
    client, _ = make_client(lambda request: next(responses), max_retries=1)

    with caplog.at_level(logging.WARNING, logger="cachelab.oci.registry"):
        client.get_manifest(APP)
        client.close()

    assert len(_warnings(caplog)) == 1


def test_unclosed_client_counts_when_collected(caplog: pytest.LogCaptureFixture) -> None:
    # `cachelab plan` opens a registry cache that nothing closes; its counts must not be lost.
    import gc

    client, _ = make_client(lambda request: httpx.Response(500), max_retries=2)

    with caplog.at_level(logging.WARNING, logger="cachelab.oci.registry"):
        with pytest.raises(RegistryError):
            client.get_manifest(APP)
        del client
        gc.collect()

    assert _warnings(caplog)[-1] == f"{HOST}/app: 1 more retry after the first retry warning (1 after HTTP 500)"
