"""A `--cache-repo` registry that serves malformed manifests: each lookup is a failed lookup, not a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cachelab.cli import main
from cachelab.record import Recording
from tests.fixtures.builder import ExampleBuilder
from tests.oci.scripted_registry import MANIFEST_TYPE, Received, Reply, ScriptedRegistry

SMALL_THREE_STAGE = {"52428800": "1048576"}


def malformed_cache(request: Received) -> Reply:
    if "/manifests/" in request.path and request.method == "GET":
        return Reply(200, b"not json!", {"Content-Type": MANIFEST_TYPE})
    # Pushes fail at once with a client error, which is not retried.
    return Reply(400)


def test_build_counts_malformed_cache_manifests(
    builder: Callable[..., ExampleBuilder], tmp_path: Path,
) -> None:
    example = builder("three-stage", replace=SMALL_THREE_STAGE)
    server = ScriptedRegistry(malformed_cache)
    try:
        status = main([
            "build", str(example.dockerfile), "--context", str(example.context), "--strategy", "lookahead",
            "--cache-repo", f"{server.address}/cache", "--image-store", str(example.image_store),
            "--record", str(tmp_path / "recording"), "--quiet",
        ])
    finally:
        server.close()

    assert status == 0
    recording = Recording.load(tmp_path / "recording")
    probes = recording.spans.loc[recording.spans["phase"] == "probe-cache", "attributes"].map(json.loads)
    assert len(probes) > 0
    for attributes in probes:
        assert attributes["found"] == "false"
        assert attributes["error"].startswith(f"invalid manifest of {server.address}/cache:")
        assert "not valid JSON" in attributes["error"]
    assert recording.builds["cache_failures"].iloc[0] >= len(probes)
