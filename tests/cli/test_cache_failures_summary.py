"""Summary warnings of build and compare when cache operations fail against a refused registry."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cachelab.build.builder import build
from cachelab.build.request import BuildRequest
from cachelab.cli import main
from cachelab.record import Recording
from tests.fixtures.builder import ExampleBuilder
from tests.fixtures.registry import free_port

# three-stage writes 50 MB; 1 MB keeps the same shape and the test fast.
SMALL_THREE_STAGE = {"52428800": "1048576"}
BUILD_WARNING = re.compile(
    r"cachelab: warning: (\d+) cache operations failed in build (\S+), which went on without them"
)


def _build_argv(example: ExampleBuilder, cache: str, record: Path) -> list[str]:
    return [
        "build", str(example.dockerfile), "--context", str(example.context), "--strategy", "lookahead",
        "--cache-repo", cache, "--image-store", str(example.image_store), "--record", str(record), "--quiet",
    ]


def test_build_warns_refused_cache(
    builder: Callable[..., ExampleBuilder], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    example = builder("three-stage", replace=SMALL_THREE_STAGE)
    cache = f"127.0.0.1:{free_port()}/cache"

    assert main(_build_argv(example, cache, tmp_path / "recording")) == 0

    output = capsys.readouterr()
    builds = Recording.load(tmp_path / "recording").builds
    found = BUILD_WARNING.search(output.err)
    assert found is not None, output.err
    assert int(found.group(1)) == builds["cache_failures"].iloc[0]
    assert int(found.group(1)) > 0
    assert found.group(2) == builds["build_id"].iloc[0]
    assert output.out.strip() == builds["image_digest"].iloc[0]


def test_build_quiet_with_working_cache(
    builder: Callable[..., ExampleBuilder], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    example = builder("three-stage", replace=SMALL_THREE_STAGE)

    assert main(_build_argv(example, str(tmp_path / "layer-cache"), tmp_path / "recording")) == 0

    output = capsys.readouterr()
    assert "cache operations failed" not in output.err
    assert Recording.load(tmp_path / "recording").builds["cache_failures"].iloc[0] == 0


def _compare_argv(example: ExampleBuilder, out: Path) -> list[str]:
    return [
        "compare", str(example.dockerfile), "--context", str(example.context), "--strategies", "per-stage",
        "--image-store", str(example.image_store), "--out", str(out), "--quiet",
    ]


def test_compare_warns_refused_cache(
    builder: Callable[..., ExampleBuilder], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cachelab.study.compare

    cache = f"127.0.0.1:{free_port()}/cache"

    def build_with_refused_cache(request: BuildRequest, **options: Any) -> Any:
        # compare gives every strategy a fresh local cache, and this points it at a closed port instead.
        return build(dataclasses.replace(request, cache=cache), **options)

    refused_compare = functools.partial(cachelab.study.compare.compare, builder=build_with_refused_cache)
    monkeypatch.setattr(cachelab.study.compare, "compare", refused_compare)
    example = builder("three-stage", replace=SMALL_THREE_STAGE)

    assert main(_compare_argv(example, tmp_path / "out")) == 0

    output = capsys.readouterr().out
    builds = Recording.load(tmp_path / "out").builds
    total = int(builds["cache_failures"].sum())
    assert len(builds) == 2
    assert (builds["cache_failures"] > 0).all()
    assert f"cachelab: warning: {total} cache operations failed in 2 builds: " in output
    for build_id in builds["build_id"]:
        assert build_id in output


def test_compare_quiet_with_working_cache(
    builder: Callable[..., ExampleBuilder], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    example = builder("three-stage", replace=SMALL_THREE_STAGE)

    assert main(_compare_argv(example, tmp_path / "out")) == 0

    output = capsys.readouterr().out
    assert "cache operations failed" not in output
    assert (Recording.load(tmp_path / "out").builds["cache_failures"] == 0).all()
