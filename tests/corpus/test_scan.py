"""Corpus reading and the static scan, through the API and `cachelab scan`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from cachelab.cli import main
from cachelab.corpus.errors import CorpusError
from cachelab.corpus.manifest import is_dockerfile_name, read_corpus
from cachelab.corpus.scan import COLUMNS, reference_pin, scan_entries, scan_text
from cachelab.corpus.store import CorpusRecord, write_store

MULTISTAGE = """\
# syntax=docker/dockerfile:1
ARG GO=golang:1.22@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM ${GO} AS build
RUN --mount=type=cache,target=/root/.cache/go-build go build -o /app
FROM build AS test
RUN --mount=type=secret,id=token go test
FROM alpine AS certs
ADD --checksum=sha256:abc https://example.com/ca.pem /ca.pem
ADD https://example.com/other.pem /other.pem
FROM certs AS final
COPY --from=build /app /app
COPY --from=nginx:1.27 /etc/nginx /etc/nginx
COPY <<EOF /motd
hello
EOF
ONBUILD RUN echo child
"""

SINGLE = "FROM debian:latest\nRUN echo hi\n"
BROKEN = "FROM a\nRUN ok\nFRUM b\n"


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "svc").mkdir(parents=True)
    (root / "svc" / "Dockerfile").write_text(MULTISTAGE, encoding="utf-8")
    (root / "single.Dockerfile").write_text(SINGLE, encoding="utf-8")
    (root / "Containerfile.broken").write_text(BROKEN, encoding="utf-8")
    (root / "README.md").write_text("not a Dockerfile\n", encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "Dockerfile").write_text(SINGLE, encoding="utf-8")
    return root


def _write_manifest(root: Path) -> Path:
    lines = []
    for relative, stages in (("svc/Dockerfile", 4), ("single.Dockerfile", 1)):
        data = (root / relative).read_bytes()
        entry = {
            "id": f"acme/app:{relative}",
            "repo": "acme/app",
            "commit": "0" * 40,
            "path": relative,
            "license": "MIT",
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "stages": stages,
            "file": relative,
        }
        lines.append(json.dumps(entry))
    manifest = root / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def test_scan_multistage_features():
    row = scan_text(MULTISTAGE, path="svc/Dockerfile")

    assert row.parsed is True
    assert row.error is None
    assert row.graph_error is None
    assert row.stages == 4
    assert row.named_stages == 4
    assert row.multistage is True
    assert row.live_stages == 3
    assert row.built_stages == 2
    assert row.from_chain_length == 2
    assert row.copy_from_stage == 1
    assert row.copy_from_image == 1
    assert row.base_digest == 1
    assert row.base_latest == 1
    assert row.base_tag == 0
    assert row.base_stage == 2
    assert row.remote_add == 2
    assert row.remote_add_checksum == 1
    assert row.run_mount_cache == 1
    assert row.run_mount_other == 1
    assert row.heredocs == 1
    assert row.onbuild == 1


def test_scan_parse_failure_row():
    row = scan_text(BROKEN, path="Containerfile.broken")

    assert row.parsed is False
    assert row.error == "unknown instruction: FRUM"
    assert row.error_line == 3
    assert row.stages == 0


def test_scan_graph_failure_row():
    row = scan_text("ARG BASE\nFROM $BASE\n")

    assert row.parsed is True
    assert row.stages == 1
    assert "expands to an empty name" in (row.graph_error or "")


@pytest.mark.parametrize(
    ("reference", "pin"),
    [
        ("alpine", "latest"),
        ("alpine:latest", "latest"),
        ("alpine:3.20", "tag"),
        ("localhost:5000/team/app", "latest"),
        ("localhost:5000/team/app:v1", "tag"),
        ("alpine@sha256:" + "a" * 64, "digest"),
        ("alpine:3@sha256:" + "a" * 64, "digest"),
    ],
)
def test_reference_pin(reference: str, pin: str):
    assert reference_pin(reference) == pin


def test_dockerfile_name_patterns():
    names = [
        "Dockerfile",
        "Dockerfile.dev",
        "Dockerfile-alpine",
        "Dockerfile_x",
        "app.Dockerfile",
        "app.dockerfile",
        "Containerfile",
        "Containerfile.in",
    ]
    for name in names:
        assert is_dockerfile_name(name), name
    for name in ["dockerfile.md", "README.md", "Makefile", "Dockerfiles"]:
        assert not is_dockerfile_name(name), name


def test_directory_walk_skips_hidden_and_others(corpus_dir: Path):
    ids = [entry.id for entry in read_corpus(corpus_dir)]

    assert ids == ["Containerfile.broken", "single.Dockerfile", "svc/Dockerfile"]


def test_manifest_entries_resolved(corpus_dir: Path):
    manifest = _write_manifest(corpus_dir)

    by_directory = list(read_corpus(corpus_dir))
    by_file = list(read_corpus(manifest))

    assert [entry.id for entry in by_file] == [
        "acme/app:svc/Dockerfile",
        "acme/app:single.Dockerfile",
    ]
    assert by_directory == by_file
    assert by_file[0].file == (corpus_dir / "svc" / "Dockerfile").resolve()
    assert by_file[0].stages == 4
    assert by_file[0].read_bytes() == MULTISTAGE.encode()


def test_manifest_path_escape_rejected(tmp_path: Path):
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"id": "x", "file": "../outside/Dockerfile"}) + "\n")

    with pytest.raises(CorpusError) as raised:
        list(read_corpus(manifest))

    assert "points outside" in str(raised.value)


def test_manifest_invalid_json_names_line(tmp_path: Path):
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text('{"id": "a", "file": "a"}\n{broken\n')

    with pytest.raises(CorpusError) as raised:
        list(read_corpus(manifest))

    assert f"{manifest}:2: invalid JSON" in str(raised.value)


def test_missing_corpus_rejected(tmp_path: Path):
    with pytest.raises(CorpusError):
        list(read_corpus(tmp_path / "absent"))


def test_store_records_scanned(tmp_path: Path):
    store = tmp_path / "corpus.jsonl.zst"
    record = CorpusRecord(
        id="acme/app:Dockerfile",
        repo="acme/app",
        commit="0" * 40,
        path="Dockerfile",
        license="MIT",
        sha256=hashlib.sha256(SINGLE.encode()).hexdigest(),
        stages=1,
        text=SINGLE,
    )
    write_store(store, [record])

    (row,) = scan_entries(read_corpus(store))

    assert row.id == "acme/app:Dockerfile"
    assert row.parsed is True
    assert row.base_latest == 1


def test_undecodable_file_row(tmp_path: Path):
    (tmp_path / "Dockerfile").write_bytes(b"FROM a\nRUN echo \xff\n")

    (row,) = scan_entries(read_corpus(tmp_path))

    assert row.parsed is False
    assert row.error == "not valid UTF-8 at byte offset 16"


def test_cli_scan_writes_parquet(
    corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out" / "scan.parquet"

    code = main(["scan", str(corpus_dir), "--out", str(out)])
    printed = capsys.readouterr().out
    frame = pd.read_parquet(out)

    assert code == 0
    assert list(frame.columns) == list(COLUMNS)
    assert list(frame["id"]) == ["Containerfile.broken", "single.Dockerfile", "svc/Dockerfile"]
    assert list(frame["parsed"]) == [False, True, True]
    assert list(frame["stages"]) == [0, 1, 4]
    assert "scanned 3 files" in printed
    assert "parsed: 2, failed: 1" in printed
    assert f"wrote 3 rows to {out}" in printed


def test_cli_scan_writes_csv(corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    manifest = _write_manifest(corpus_dir)
    out = tmp_path / "scan.csv"

    code = main(["scan", str(manifest), "--out", str(out), "--progress", "never"])
    frame = pd.read_csv(out)

    assert code == 0
    assert list(frame["manifest_stages"]) == [4, 1]
    assert list(frame["stages"]) == [4, 1]
    assert capsys.readouterr().err == ""


def test_cli_scan_rejects_unknown_extension(
    corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code = main(["scan", str(corpus_dir), "--out", str(tmp_path / "scan.xlsx")])

    assert code == 1
    assert "name the output file *.parquet or *.csv" in capsys.readouterr().err


@pytest.mark.corpus
def test_scan_real_corpus(shared: Path):
    rows = list(scan_entries(read_corpus(shared / "corpora" / "real-v1")))
    parsed = [row for row in rows if row.parsed]

    assert len(rows) == 561
    assert len(parsed) == 557
    assert all(row.stages == row.manifest_stages for row in parsed)
    assert sum(row.multistage for row in rows) == 284
    assert sum(row.copy_from_stage > 0 for row in rows) >= 200
    assert sum(row.run_mount_cache > 0 for row in rows) >= 40


def test_scan_warnings_name_corpus_id(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    text = "ARG TARGETOS\nFROM runc-${TARGETOS}\nRUN true\n"
    # Ids unique to this test, because each warning is logged once per process.
    ids = [f"{tmp_path.name}/one:Dockerfile", f"{tmp_path.name}/two:Dockerfile"]
    records = [
        CorpusRecord(id=identifier, repo=identifier.split(":")[0], commit="0" * 40, path="Dockerfile",
                     license="MIT", sha256=hashlib.sha256(text.encode()).hexdigest(), stages=1, text=text)
        for identifier in ids
    ]
    store = tmp_path / "corpus.jsonl.zst"
    write_store(store, records)

    with caplog.at_level("WARNING", logger="cachelab.dockerfile"):
        rows = list(scan_entries(read_corpus(store)))

    assert [row.parsed for row in rows] == [True, True]
    messages = [record.getMessage() for record in caplog.records]
    for identifier in ids:
        assert any(message.startswith(f"{identifier}:2: FROM runc-${{TARGETOS}} uses TARGETOS")
                   for message in messages), messages


def test_cli_scan_creates_out_folders(corpus_dir: Path, tmp_path: Path):
    out = tmp_path / "new" / "deeper" / "scan.csv"

    code = main(["scan", str(corpus_dir), "--out", str(out), "--progress", "never"])

    assert code == 0
    assert out.is_file()


def test_cli_scan_failure_removes_created_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    empty = tmp_path / "empty"
    empty.mkdir()

    code = main(["scan", str(empty), "--out", str(tmp_path / "new" / "deeper" / "scan.csv")])

    assert code == 1
    assert "no Dockerfiles found" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_cli_scan_unwritable_out_fails_first(corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "afile").write_text("")
    out = tmp_path / "afile" / "scan.csv"

    code = main(["scan", str(corpus_dir), "--out", str(out)])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cachelab: error: failed to write --out {out}: " in err
    assert "cachelab: hint: give --out a path in a folder you can write to" in err
    assert "scanned" not in err
