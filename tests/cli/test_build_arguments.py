"""Argument checks of build, plan and keys: --build-arg forms, --cache paths, unknown options."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.cli.plan import parse_build_args
from cachelab.errors import CachelabError
from tests.fixtures.paths import TESTS_DIR

DATA = TESTS_DIR / "keys" / "data"
BASE = f"example.org/busybox:1={DATA / 'busybox-manifest.json'},{DATA / 'busybox-config.json'}"
EXAMPLE = TESTS_DIR.parent / "datasets" / "examples" / "two-stage"


def keys_of(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[object]:
    assert main(argv) == 0
    return [row["key"] for row in json.loads(capsys.readouterr().out)]


@pytest.mark.parametrize(("value", "reason"), [
    ("=x", "the name before '=' is empty"),
    ("=", "the name before '=' is empty"),
    ("", "the name before '=' is empty"),
    ("A B=1", "the name 'A B' contains whitespace"),
    ("A\tB", "the name 'A\\tB' contains whitespace"),
])
def test_build_arg_invalid_name(value: str, reason: str) -> None:
    with pytest.raises(CachelabError) as raised:
        parse_build_args([value])

    assert str(raised.value) == f"invalid --build-arg {value!r}: {reason}"
    assert "--build-arg NAME=VALUE" in (raised.value.hint or "")


def test_build_arg_name_from_environment(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CACHELAB_TEST_SET", "from-env")
    monkeypatch.delenv("CACHELAB_TEST_UNSET", raising=False)

    with caplog.at_level(logging.WARNING):
        parsed = parse_build_args(["CACHELAB_TEST_SET", "CACHELAB_TEST_UNSET", "K=a=b", "K2="])

    assert parsed == {"CACHELAB_TEST_SET": "from-env", "CACHELAB_TEST_UNSET": "", "K": "a=b", "K2": ""}
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert "environment variable CACHELAB_TEST_UNSET is not set" in warnings[0]


def test_build_arg_last_value_wins() -> None:
    assert parse_build_args(["K=1", "K=2"]) == {"K": "2"}


def test_unset_build_arg_replaces_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CACHELAB_TEST_V", raising=False)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM example.org/busybox:1\nARG CACHELAB_TEST_V=default\nRUN echo $CACHELAB_TEST_V\n")
    common = ["keys", str(dockerfile), "--context", str(tmp_path), "--base", BASE]

    bare = keys_of(capsys, [*common, "--build-arg", "CACHELAB_TEST_V"])
    empty = keys_of(capsys, [*common, "--build-arg", "CACHELAB_TEST_V="])
    default = keys_of(capsys, common)

    assert bare == empty
    assert bare[-1] != default[-1]


def test_build_rejects_empty_build_arg_name(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["build", str(EXAMPLE), "--build-arg", "=x", "--dry-run"])

    err = capsys.readouterr().err
    assert code == 1
    assert "cachelab: error: invalid --build-arg '=x': the name before '=' is empty" in err


def plan_with_cache(tmp_path: Path, cache: str) -> int:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM example.org/busybox:1\nRUN echo hi\n")
    context = tmp_path / "context"
    context.mkdir(exist_ok=True)
    return main(["plan", str(dockerfile), "--context", str(context), "--base", BASE, "--cache", cache])


@pytest.mark.parametrize(("cache", "message"), [
    ("{tmp}/missing", "cache store {tmp}/missing does not exist"),
    ("{tmp}/Dockerfile", "cache store {tmp}/Dockerfile is not a directory"),
    ("{tmp}/context", "cache store {tmp}/context is not an OCI image layout (no oci-layout file)"),
    ("oci:{tmp}/missing/cache", "cache directory {tmp}/missing of --cache oci:{tmp}/missing/cache does not exist"),
])
def test_plan_rejects_bad_cache_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cache: str, message: str,
) -> None:
    (tmp_path / "context").mkdir()
    (tmp_path / "context" / "file.txt").write_text("not a layout\n")

    code = plan_with_cache(tmp_path, cache.format(tmp=tmp_path))

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: {message.format(tmp=tmp_path)}" in err
    assert "cachelab: hint: Pass the directory a build used as --cache-repo, or `mem`" in err


def test_plan_accepts_empty_cache_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()

    code = plan_with_cache(tmp_path, str(tmp_path / "empty"))

    assert code == 0
    assert "CACHE MISS" in capsys.readouterr().out


def test_plan_reads_relative_directory_as_local(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "stray.txt").write_text("x\n")
    monkeypatch.chdir(tmp_path)

    code = plan_with_cache(tmp_path, "cache")

    assert code == 1
    assert "cachelab: error: cache store cache is not an OCI image layout" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["build", "Dockerfile", "--no-such-option"],
    ["plan", "Dockerfile", "--no-such-option"],
    ["image", "busybox", "oci:/tmp/store:1", "--no-such-option"],
    ["cache", "ls", "--no-such-option"],
])
def test_unknown_option_prints_subcommand_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)

    err = capsys.readouterr().err
    words = argv[:2] if argv[0] in ("image", "cache") else argv[:1]
    assert raised.value.code == 2
    assert err.startswith(f"usage: cachelab {' '.join(words)} ")
    assert f"cachelab {' '.join(words)}: error: unrecognized arguments: --no-such-option" in err
