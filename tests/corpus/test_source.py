"""Resolving a CORPUS argument, and the errors for corpora that are missing, empty or damaged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import zstandard

from cachelab.corpus.errors import CorpusError
from cachelab.corpus.source import resolve_corpus
from cachelab.corpus.store import CorpusRecord, fetched_store_path, read_store, write_store

DOCKERFILE = "FROM busybox AS build\nRUN echo hi > /hi\nFROM busybox\nCOPY --from=build /hi /hi\n"


def record(identifier: str, text: str = DOCKERFILE) -> CorpusRecord:
    return CorpusRecord(
        id=identifier, repo="acme/app", commit="0" * 40, path="Dockerfile", license="MIT",
        sha256=hashlib.sha256(text.encode()).hexdigest(), stages=text.count("FROM "), text=text,
    )


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache directory, set as the user sets it."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(directory))
    monkeypatch.chdir(tmp_path)
    return directory


def write_manifest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "files").mkdir(exist_ok=True)
    (folder / "files" / "app").write_text(DOCKERFILE)
    manifest = folder / "manifest.jsonl"
    manifest.write_text(json.dumps({"id": "acme/app:Dockerfile", "file": "files/app"}) + "\n")
    return manifest


def test_fetched_name_resolves_to_store(cache_dir: Path):
    write_store(fetched_store_path("mine"), [record("a"), record("b")])

    source = resolve_corpus("mine")

    assert source.kind == "store"
    assert source.path == cache_dir / "corpora" / "mine.jsonl.zst"
    assert [entry.id for entry in source.entries()] == ["a", "b"]


def test_path_wins_over_fetched_name(cache_dir: Path, tmp_path: Path):
    write_store(fetched_store_path("mine"), [record("from-store")])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "Dockerfile").write_text(DOCKERFILE)

    source = resolve_corpus("mine")

    assert source.kind == "directory"
    assert [entry.id for entry in source.entries()] == ["Dockerfile"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("store.jsonl.zst", "store"),
        ("renamed-store", "store"),
        ("manifest.jsonl", "manifest"),
        ("list.txt", "manifest"),
        ("Dockerfile", "dockerfile"),
        ("build.txt", "dockerfile"),
    ],
)
def test_file_kinds(cache_dir: Path, tmp_path: Path, name: str, kind: str):
    path = tmp_path / "in" / name
    path.parent.mkdir()
    if kind == "store":
        write_store(path, [record("a")])
    elif kind == "manifest":
        write_manifest(tmp_path / "in")
        path.write_text((tmp_path / "in" / "manifest.jsonl").read_text())
    else:
        path.write_text(DOCKERFILE)

    source = resolve_corpus(path)

    assert source.kind == kind
    assert len(list(source.entries())) == 1


def test_single_dockerfile_entry(cache_dir: Path, tmp_path: Path):
    path = tmp_path / "app.Dockerfile"
    path.write_text(DOCKERFILE)

    [entry] = resolve_corpus(str(path)).entries()

    assert entry.id == "app.Dockerfile"
    assert entry.read_bytes() == DOCKERFILE.encode()


def test_manifest_directory_read_through_manifest(cache_dir: Path, tmp_path: Path):
    write_manifest(tmp_path / "corpus")

    source = resolve_corpus(tmp_path / "corpus")

    assert source.kind == "manifest"
    assert [entry.id for entry in source.entries()] == ["acme/app:Dockerfile"]


def test_unknown_name_names_both_places(cache_dir: Path, tmp_path: Path):
    with pytest.raises(CorpusError) as caught:
        resolve_corpus("nothing-here")

    message = str(caught.value)
    assert "corpus not found: nothing-here" in message
    assert str(tmp_path / "nothing-here") in message
    assert str(cache_dir / "corpora" / "nothing-here.jsonl.zst") in message
    assert "no corpus is fetched yet" in caught.value.hint


def test_shipped_name_not_fetched_hints_fetch(cache_dir: Path):
    with pytest.raises(CorpusError) as caught:
        resolve_corpus("real-v1")

    assert caught.value.hint == f"run `cachelab corpus fetch real-v1` to download it into {cache_dir / 'corpora'}"


def test_typo_suggests_fetched_name(cache_dir: Path):
    write_store(fetched_store_path("python-v2"), [record("a")])

    with pytest.raises(CorpusError) as caught:
        resolve_corpus("pyhton-v2")

    assert caught.value.hint.startswith("did you mean python-v2?")


def test_missing_path_not_taken_as_name(cache_dir: Path):
    with pytest.raises(CorpusError) as caught:
        resolve_corpus("corpora/absent")

    assert "fetched corpus" not in str(caught.value)


def test_empty_directory_rejected(cache_dir: Path, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("no Dockerfile here\n")
    source = resolve_corpus(tmp_path / "empty")

    with pytest.raises(CorpusError) as caught:
        list(source.entries())

    assert str(caught.value) == f"no Dockerfiles found in the directory {tmp_path / 'empty'}"
    assert "Containerfile" in caught.value.hint


def test_empty_store_rejected(cache_dir: Path):
    write_store(fetched_store_path("none"), [])

    with pytest.raises(CorpusError, match="no Dockerfiles found in the fetched store"):
        list(resolve_corpus("none").entries())


def test_store_without_zstd_magic_rejected(cache_dir: Path, tmp_path: Path):
    path = tmp_path / "garbage.jsonl.zst"
    path.write_text("not compressed\n")

    with pytest.raises(CorpusError) as caught:
        resolve_corpus(path)

    assert str(caught.value).startswith(f"{path}: not a zstd-compressed corpus store")
    assert "fetch the corpus again" in caught.value.hint


def test_truncated_store_rejected(tmp_path: Path):
    path = tmp_path / "store.jsonl.zst"
    write_store(path, [record(f"file-{number}", DOCKERFILE * number) for number in range(200)])
    truncated = tmp_path / "truncated.jsonl.zst"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    with pytest.raises(CorpusError, match="truncated"):
        list(read_store(truncated))


def test_damaged_store_frame_rejected(tmp_path: Path):
    path = tmp_path / "store.jsonl.zst"
    write_store(path, [record(f"file-{number}", DOCKERFILE * number) for number in range(200)])
    data = bytearray(path.read_bytes())
    # Overwrite bytes past the frame header so the magic number stays valid.
    data[100:400] = b"\xff" * 300
    path.write_bytes(bytes(data))

    # Which check notices first depends on where the damage lands in the
    # compressed data: zstd, the JSON of a line, or a record's sha256.
    with pytest.raises(CorpusError) as caught:
        list(read_store(path))

    assert str(caught.value).startswith(f"{path}: ")
    assert any(reason in str(caught.value) for reason in (
        "not a zstd-compressed corpus store", "is not a corpus record", "does not match its sha256",
    ))
    assert "cachelab corpus fetch" in caught.value.hint


def test_store_of_binary_text_rejected(tmp_path: Path):
    path = tmp_path / "store.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b'{"id": "a"}\n\xff\xfe\n'))

    with pytest.raises(CorpusError, match="not UTF-8 text"):
        list(read_store(path))


def test_manifest_with_absent_files_names_entry(cache_dir: Path, tmp_path: Path):
    manifest = write_manifest(tmp_path / "corpus")
    (tmp_path / "corpus" / "files" / "app").unlink()

    [entry] = resolve_corpus(manifest).entries()
    with pytest.raises(CorpusError) as caught:
        entry.read_bytes()

    assert "file of corpus entry acme/app:Dockerfile not found" in str(caught.value)
    assert "cachelab corpus fetch" in caught.value.hint
