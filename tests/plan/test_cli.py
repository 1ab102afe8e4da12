"""The plan, keys and explain commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cachelab.cli import main

DATA = Path(__file__).resolve().parent.parent / "keys" / "data"
CASE = Path(__file__).resolve().parent.parent / "cases" / "01-copy-from-stale-hit"
BASE = f"example.org/busybox:1={DATA / 'busybox-manifest.json'},{DATA / 'busybox-config.json'}"


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[dict[str, object]]:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_plan_text_is_kaniko_grammar(context: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plan", str(CASE / "Dockerfile"), "--context", str(context), "--base", BASE])

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0] == "FROM example.org/busybox:1 AS builder"
    assert lines[1] == "  STREAM example.org/busybox:1"
    assert lines[3].startswith("  CACHE MISS: ")
    assert "SAVE FILES [/out.txt] /kaniko/deps/0" in lines
    assert lines[-2].startswith("  CACHE REDIRECT MISS: ")


def test_plan_json_rows(context: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_json(capsys, [
        "plan", str(CASE / "Dockerfile"), "--context", str(context), "--base", BASE,
        "--format", "json", "--profile", "kaniko-copy",
    ])

    assert [row["decision"] for row in rows] == ["miss", "not-probed", "unkeyed", "unkeyed"]
    assert [row["a_priori"] for row in rows] == [True, True, False, False]
    assert rows[0]["stage"] == 0
    assert rows[2]["instruction"] == "COPY --from=builder /out.txt /srv/out.txt"


def test_keys_json_null_where_files_needed(context: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() != 0:
        pytest.skip("the expected key hashes app.txt owned by uid 0 and gid 0")
    rows = run_json(capsys, [
        "keys", str(CASE / "Dockerfile"), "--context", str(context), "--base", BASE,
        "--profile", "kaniko-copy",
    ])

    # The key kaniko logged for `COPY app.txt /src/app.txt` in this configuration.
    assert rows[0]["key"] == "b2a1c23561415f53f3f5384d64b65ad2f2dd60557b3751b48a218d40e7539879"
    assert rows[0]["stage_name"] == "builder"
    assert rows[2]["key"] is None
    assert rows[3]["key"] is None


def test_build_arg_and_target_spellings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM example.org/busybox:1 AS a\nARG X\nRUN echo $X\n"
        "FROM example.org/busybox:1 AS b\nARG Y\nRUN echo $Y\n"
    )
    common = ["keys", str(dockerfile), "--context", str(tmp_path), "--base", BASE]

    spaced = run_json(capsys, [*common, "--build-arg", "X=1", "--build-arg", "Y=2", "--target", "a,b"])
    joined = run_json(capsys, [*common, "--build-arg=X=1", "--build-arg=Y=2", "--target", "a", "--target", "b"])
    other = run_json(capsys, [*common, "--build-arg=X=9", "--build-arg=Y=2", "--target", "a,b"])

    assert spaced == joined
    assert {row["stage"] for row in spaced} == {0, 1}
    assert other[1]["key"] != spaced[1]["key"]
    assert other[3]["key"] == spaced[3]["key"]


def test_explain_names_mode_change(context: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    common = ["keys", str(CASE / "Dockerfile"), "--context", str(context), "--base", BASE]
    assert main([*common, "--parts", str(before)]) == 0
    os.chmod(context / "app.txt", 0o755)
    assert main([*common, "--parts", str(after)]) == 0
    capsys.readouterr()

    code = main(["explain", str(before), str(after)])

    output = capsys.readouterr().out
    assert code == 1
    assert "stage 0 instruction 0: COPY app.txt /src/app.txt" in output
    assert "app.txt: mode" in output


def test_explain_equal_files(context: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = tmp_path / "parts.json"
    assert main(["keys", str(CASE / "Dockerfile"), "--context", str(context), "--base", BASE, "--parts", str(parts)]) == 0
    capsys.readouterr()

    assert main(["explain", str(parts), str(parts)]) == 0
    assert "no difference" in capsys.readouterr().out


def test_explain_rejects_keys_output(context: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys.json"
    code = main(["keys", str(CASE / "Dockerfile"), "--context", str(context), "--base", BASE, "--format", "json"])
    keys.write_text(capsys.readouterr().out)
    assert code == 0

    code = main(["explain", str(keys), str(keys)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert f"cachelab: error: {keys} has no key parts for stage 0 instruction 0" in captured.err
    assert "`cachelab keys` output, not a --parts file" in captured.err
    assert "--parts OUT.json" in captured.err


@pytest.mark.parametrize("command", ["plan", "keys", "stages"])
def test_example_directory_as_file(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = tmp_path / "example"
    (example / "context").mkdir(parents=True)
    (example / "context" / "app.txt").write_text("app\n")
    (example / "Dockerfile").write_text("FROM example.org/busybox:1\nCOPY app.txt /app.txt\n")
    options = [] if command == "stages" else ["--base", BASE, "--format", "json"]

    assert main([command, str(example), *options]) == 0
    from_directory = capsys.readouterr().out
    explicit = [] if command == "stages" else ["--context", str(example / "context")]
    assert main([command, str(example / "Dockerfile"), *explicit, *options]) == 0
    from_file = capsys.readouterr().out

    assert from_directory.strip() != ""
    assert from_directory == from_file


def test_plan_file_without_context_reports_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM example.org/busybox:1\n")

    code = main(["plan", str(dockerfile), "--base", BASE])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: no build context for {dockerfile}" in err


def test_missing_saved_base_reports_error(
    context: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # With --base, only saved files are used: a FROM without one is an error.
    manifest, config = tmp_path / "m.json", tmp_path / "c.json"
    manifest.write_text("{}")
    config.write_text("{}")

    code = main([
        "plan", str(CASE / "Dockerfile"), "--context", str(context),
        "--base", f"other.example/image:1={manifest},{config}",
    ])

    error = capsys.readouterr().err
    assert code == 1
    assert "example.org/busybox:1" in error
    assert "hint: Give each base as REF=MANIFEST.json,CONFIG.json" in error


def test_unreachable_registry_base_reports_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without --base, bases come from the local image store, then their registry.
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "cache"))
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM 127.0.0.1:9/nothing:1\nRUN true\n")

    code = main(["plan", str(dockerfile), "--context", str(tmp_path)])

    error = capsys.readouterr().err
    assert code == 1
    assert "127.0.0.1:9/nothing:1" in error


def test_unknown_profile_reports_error(context: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plan", str(CASE / "Dockerfile"), "--context", str(context), "--profile", "fast"])

    assert code == 1
    assert "unknown profile 'fast'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["plan", "keys", "build"])
def test_invalid_platform_reports_error(
    command: str, context: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([command, str(CASE / "Dockerfile"), "--context", str(context), "--platform", "foo"])

    err = capsys.readouterr().err
    assert code == 1
    assert "cachelab: error: invalid platform 'foo'" in err
    assert "cachelab: hint: Write the platform as os/arch[/variant], such as linux/arm64." in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["plan", "keys"])
def test_missing_copy_source_names_file_and_line(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM example.org/busybox:1\nCOPY nosuch /x\n")

    code = main([command, str(dockerfile), "--context", str(context), "--base", BASE])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: {dockerfile}:2: COPY/ADD source 'nosuch' not found in {context}" in err
    assert "cachelab: hint: Check the path relative to the build context or source stage" in err


def test_plan_against_layout_cache_eliminates(
    context: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # Fill an OCI layout cache the way kaniko's golden harness fills its fake one
    # (every key a pointer to itself) until the plan stops finding new keys.
    from datetime import UTC, datetime

    from cachelab.oci.cache import open_layer_cache

    store = tmp_path / "cache"
    argv = [
        "plan", str(CASE / "Dockerfile"), "--context", str(context), "--base", BASE,
        "--cache", str(store), "--format", "json",
    ]
    store.mkdir()
    cache = open_layer_cache(str(store))
    stored: set[str] = set()
    for _ in range(4):
        rows = run_json(capsys, argv)
        keys = {row[name] for row in rows for name in ("key", "redirect_key") if row[name]}
        for key in keys - stored:
            cache.put_pointer(str(key), str(key), created=datetime.now(UTC))
        if keys <= stored:
            break
        stored |= keys

    assert [row["decision"] for row in rows] == ["skipped", "skipped", "hit", "hit"]
    assert [row["action"] for row in rows] == ["eliminated", "eliminated", "built", "built"]
    assert rows[2]["redirect_key"] == rows[2]["key"]
