"""Explanations that compare file parts by their path relative to the context root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.buildargs import BuildArgs, StageEnv
from cachelab.keys.explain import explain, relative_path
from cachelab.keys.filehash import EntryDigest, PathPart
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.parts import KeyPart, KeyParts, instruction_parts
from tests.keys.trees import needs_root

OPTIONS = KanikoOptions(cache=True)


def copy_parts(context: Path, text: str = "COPY d /d\n") -> KeyParts:
    instruction = parse_dockerfile("FROM scratch\n" + text).stages[0].instructions[0]
    state = StageEnv.for_base(["PATH=/bin"], BuildArgs())
    return instruction_parts(instruction, state, options=OPTIONS, context=str(context))


def make_context(root: Path, a_text: str) -> Path:
    (root / "d").mkdir(parents=True)
    (root / "d" / "a.txt").write_text(a_text)
    (root / "d" / "b.txt").write_text("bbb")
    for path in [root, *root.rglob("*")]:
        os.chown(path, 0, 0)
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def file_part(path: str, digest: str) -> KeyPart:
    entry = EntryDigest(path, "-rw-r--r--", "0,0", digest, 3)
    return KeyPart("file", digest * 2, path=path, file=PathPart(path, digest * 2, False, (entry,)))


@pytest.mark.parametrize(("path", "root", "expected"), [
    ("/ctx/d/a.txt", "/ctx", "d/a.txt"),
    ("/ctx/d/a.txt", "/ctx/", "d/a.txt"),
    ("/ctx", "/ctx", "."),
    ("/ctx-other/a.txt", "/ctx", "/ctx-other/a.txt"),
    ("/elsewhere/a.txt", "/ctx", "/elsewhere/a.txt"),
    ("/kaniko/deps/1/out/x.txt", "/ctx", "out/x.txt"),
    ("/kaniko/deps/docker.io/library/busybox:1/bin", "/ctx", "/kaniko/deps/docker.io/library/busybox:1/bin"),
    ("/kaniko/deps/2", "/ctx", "."),
    ("/ctx/d/a.txt", None, "/ctx/d/a.txt"),
    ("/kaniko/deps/1/out.txt", None, "/kaniko/deps/1/out.txt"),
])
def test_relative_path(path: str, root: str | None, expected: str) -> None:
    assert relative_path(path, root) == expected


@needs_root
def test_same_directory_in_two_contexts(tmp_path: Path) -> None:
    first = make_context(tmp_path / "one" / "context", "aaa")
    second = make_context(tmp_path / "two" / "context", "AAA!")

    difference = explain(copy_parts(first), copy_parts(second), roots=(str(first), str(second)))

    assert difference is not None
    assert difference.kind == "file"
    assert difference.path == str(second / "d")
    assert difference.source == "d"
    assert [(entry.path, entry.aspects) for entry in difference.entries] == [("d/a.txt", ("content",))]
    assert difference.describe() == "files of d differ: d/a.txt: content"


@needs_root
def test_equal_contexts_in_two_directories(tmp_path: Path) -> None:
    first = make_context(tmp_path / "one", "aaa")
    second = make_context(tmp_path / "two", "aaa")

    assert explain(copy_parts(first), copy_parts(second), roots=(str(first), str(second))) is None


def test_without_roots_paths_stay_absolute() -> None:
    before = [KeyPart("instruction", "COPY a.txt /"), file_part("/one/a.txt", "1" * 32)]
    after = [KeyPart("instruction", "COPY a.txt /"), file_part("/two/a.txt", "2" * 32)]

    difference = explain(before, after)

    assert difference is not None
    assert [(entry.path, entry.aspects) for entry in difference.entries] == [
        ("/one/a.txt", ("removed",)),
        ("/two/a.txt", ("added",)),
    ]
    assert difference.describe().startswith("files of /one/a.txt and /two/a.txt differ")


def test_other_source_names_both_files() -> None:
    before = [KeyPart("instruction", "COPY $SRC /"), file_part("/one/a.txt", "1" * 32)]
    after = [KeyPart("instruction", "COPY $SRC /"), file_part("/two/b.txt", "2" * 32)]

    difference = explain(before, after, roots=("/one", "/two"))

    assert difference is not None
    assert difference.before_source == "a.txt"
    assert difference.source == "b.txt"
    assert difference.describe() == "files of a.txt and b.txt differ: a.txt: removed; b.txt: added"


def test_stage_files_match_across_stage_index() -> None:
    before = [KeyPart("instruction", "COPY --from=app /out.txt /"), file_part("/kaniko/deps/1/out.txt", "1" * 32)]
    after = [KeyPart("instruction", "COPY --from=app /out.txt /"), file_part("/kaniko/deps/2/out.txt", "2" * 32)]

    difference = explain(before, after, roots=("/one", "/two"))

    assert difference is not None
    assert [(entry.path, entry.aspects) for entry in difference.entries] == [("out.txt", ("content",))]
    assert difference.describe() == "files of out.txt differ: out.txt: content"


def test_placeholder_part_named_relative() -> None:
    before = [KeyPart("file", "1" * 64, path="/one/missing.txt")]
    after = [KeyPart("file", "2" * 64, path="/two/missing.txt")]

    difference = explain(before, after, roots=("/one", "/two"))

    assert difference is not None
    assert difference.describe() == "file part of missing.txt differs (no entry details recorded)"
