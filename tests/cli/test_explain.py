"""`cachelab keys --parts` and `cachelab explain`: file names and exit statuses."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from cachelab.cli import main
from cachelab.cli.explain import EXIT_DIFFERENT, EXIT_ERROR, EXIT_SAME
from tests.fixtures.paths import REPO_ROOT, TESTS_DIR

FAN_IN = REPO_ROOT / "datasets" / "examples" / "fan-in"
DATA = TESTS_DIR / "keys" / "data"
BASE = f"busybox={DATA / 'busybox-manifest.json'},{DATA / 'busybox-config.json'}"
CONFIG_CHANGE = [
    "stage 1 instruction 0: COPY config.ini /src/config.ini",
    "  files of config.ini differ: config.ini: content",
]


def write_parts(example: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["keys", str(example), "--base", BASE, "--parts", str(out)]) == 0
    capsys.readouterr()
    return out


@pytest.fixture
def fan_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """Parts files of two copies of the fan-in example; the second has a longer config.ini."""
    first = shutil.copytree(FAN_IN, tmp_path / "fanA")
    second = shutil.copytree(FAN_IN, tmp_path / "fanB")
    with open(second / "context" / "config.ini", "a") as stream:
        stream.write("extra=1\n")
    return (write_parts(first, tmp_path / "pA.json", capsys),
            write_parts(second, tmp_path / "pB.json", capsys))


def without_context_root(path: Path) -> Path:
    """Return a copy of a parts file without `context_root`, as earlier versions wrote it."""
    rows = json.loads(path.read_text())
    for row in rows:
        for record in row["parts"]:
            record.pop("context_root", None)
    old = path.with_name("old-" + path.name)
    old.write_text(json.dumps(rows))
    return old


def test_parts_record_context_root(fan_pair: tuple[Path, Path], tmp_path: Path) -> None:
    rows = json.loads(fan_pair[0].read_text())

    file_parts = [record for row in rows for record in row["parts"] if record["kind"] == "file"]
    assert file_parts
    context = os.path.realpath(tmp_path / "fanA" / "context")
    assert {record["context_root"] for record in file_parts} == {context}
    assert all(record["path"].startswith(context + "/") for record in file_parts)


def test_explain_two_context_directories(
    fan_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["explain", str(fan_pair[0]), str(fan_pair[1])])

    output = capsys.readouterr().out
    assert code == EXIT_DIFFERENT
    assert output.splitlines() == CONFIG_CHANGE
    assert str(tmp_path) not in output


def test_explain_reads_old_parts_files(
    fan_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
) -> None:
    before, after = (without_context_root(path) for path in fan_pair)

    code = main(["explain", str(before), str(after)])

    assert code == EXIT_DIFFERENT
    assert capsys.readouterr().out.splitlines() == CONFIG_CHANGE


def test_explain_new_against_old_file(
    fan_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["explain", str(fan_pair[0]), str(without_context_root(fan_pair[1]))])

    assert code == EXIT_DIFFERENT
    assert capsys.readouterr().out.splitlines() == CONFIG_CHANGE


def test_explain_same_parts_exit_0(fan_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explain", str(fan_pair[0]), str(fan_pair[0])])

    assert code == EXIT_SAME == 0
    assert "no difference" in capsys.readouterr().out


def test_explain_difference_exit_1(fan_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(fan_pair[0]), str(fan_pair[1])]) == EXIT_DIFFERENT == 1


def test_explain_missing_file_exit_2(
    fan_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "nope.json"

    code = main(["explain", str(fan_pair[0]), str(missing)])

    captured = capsys.readouterr()
    assert code == EXIT_ERROR == 2
    assert captured.out == ""
    assert captured.err.splitlines()[0] == f"cachelab: error: key-part file not found: {missing}"
    assert f"--parts {missing}" in captured.err.splitlines()[1]
    assert "Errno" not in captured.err


def test_explain_invalid_json_exit_2(
    fan_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    invalid = tmp_path / "invalid.json"
    invalid.write_text("[\n")

    code = main(["explain", str(invalid), str(fan_pair[1])])

    captured = capsys.readouterr()
    assert code == EXIT_ERROR
    assert captured.out == ""
    assert captured.err.startswith(f"cachelab: error: {invalid} is not a key-part file: ")


def test_explain_directory_exit_2(
    fan_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["explain", str(tmp_path), str(fan_pair[1])])

    captured = capsys.readouterr()
    assert code == EXIT_ERROR
    assert captured.err.splitlines()[0] == f"cachelab: error: failed to read key-part file {tmp_path}: Is a directory"


@pytest.mark.parametrize(("content", "problem"), [
    ("{}", "expected a JSON list of rows, found dict"),
    ('"parts"', "expected a JSON list of rows, found str"),
    ("[1]", "row 1 is not an object with `stage` and `index`"),
    ('[{"stage": 0}]', "row 1 is not an object with `stage` and `index`"),
])
def test_explain_wrong_shape_exit_2(
    fan_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str,
) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(content)

    code = main(["explain", str(fan_pair[0]), str(wrong)])

    captured = capsys.readouterr()
    assert code == EXIT_ERROR
    assert captured.out == ""
    assert captured.err.splitlines()[0] == f"cachelab: error: {wrong} is not a key-part file: {problem}"
    assert "subscriptable" not in captured.err


def write_profile_parts(profile: str, out: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["keys", str(FAN_IN), "--base", BASE, "--profile", profile, "--parts", str(out)]) == 0
    capsys.readouterr()
    return out


def without_key_mode(path: Path) -> Path:
    """Return a copy of a parts file without `key_mode`, as earlier versions wrote it."""
    rows = json.loads(path.read_text())
    for row in rows:
        row.pop("key_mode")
    old = path.with_name("nomode-" + path.name)
    old.write_text(json.dumps(rows))
    return old


def test_parts_record_key_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rolling = json.loads(write_profile_parts("kaniko-lookahead", tmp_path / "p1.json", capsys).read_text())
    legacy = json.loads(write_profile_parts("kaniko-copy", tmp_path / "p4.json", capsys).read_text())

    assert {row["key_mode"] for row in rolling} == {"rolling"}
    assert {row["key_mode"] for row in legacy} == {"legacy"}


def test_explain_names_both_key_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rolling = write_profile_parts("kaniko-lookahead", tmp_path / "p1.json", capsys)
    legacy = write_profile_parts("kaniko-copy", tmp_path / "p4.json", capsys)

    code = main(["explain", str(rolling), str(legacy)])

    output = capsys.readouterr().out
    assert code == EXIT_DIFFERENT
    assert output.splitlines() == [
        "the key modes differ: rolling (FF_KANIKO_ROLLING_CACHE_KEY) keys in BEFORE, "
        "legacy keys in AFTER, so every key differs even where the parts are equal",
        "the parts of every instruction are equal",
    ]
    assert "seed" not in output


def test_explain_key_modes_and_parts_differ(
    fan_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    legacy = tmp_path / "fanB-legacy.json"
    assert main(["keys", str(tmp_path / "fanB"), "--base", BASE, "--profile", "kaniko-copy",
                 "--parts", str(legacy)]) == 0
    capsys.readouterr()

    code = main(["explain", str(fan_pair[0]), str(legacy)])

    lines = capsys.readouterr().out.splitlines()
    assert code == EXIT_DIFFERENT
    assert lines[0].startswith("the key modes differ: rolling")
    assert lines[1:] == CONFIG_CHANGE


def test_explain_old_files_name_mode_as_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rolling = without_key_mode(write_profile_parts("kaniko-lookahead", tmp_path / "p1.json", capsys))
    legacy = without_key_mode(write_profile_parts("kaniko-copy", tmp_path / "p4.json", capsys))

    code = main(["explain", str(rolling), str(legacy)])

    output = capsys.readouterr().out
    assert code == EXIT_DIFFERENT
    assert "or the key mode (legacy or rolling) differs" in output
