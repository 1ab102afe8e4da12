"""`cachelab corpus fetch` against a local HTTP server and a local copy."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cachelab.cli import main
from cachelab.corpus.errors import CorpusError
from cachelab.corpus.fetch import fetch_corpus, load
from cachelab.corpus.manifest import read_manifest
from cachelab.corpus.store import read_store, write_store

FILES = {
    "acme/app": {"Dockerfile": "FROM busybox AS build\nRUN echo hi\nFROM busybox\nCOPY --from=build / /\n"},
    "acme/tool": {"docker/Dockerfile": "FROM scratch\nCOPY tool /tool\n"},
}
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write_manifest(path: Path, *, corrupt: str | None = None) -> Path:
    lines = []
    for repo, files in FILES.items():
        for file_path, text in files.items():
            digest = hashlib.sha256(text.encode()).hexdigest()
            if corrupt == repo:
                digest = "0" * 64
            lines.append(
                {
                    "id": f"{repo}:{file_path}",
                    "repo": repo,
                    "commit": COMMIT,
                    "path": file_path,
                    "license": "MIT",
                    "sha256": digest,
                    "stages": text.count("FROM "),
                    "file": f"files/{repo.replace('/', '__')}/{file_path.replace('/', '__')}",
                }
            )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def write_local_copy(root: Path) -> None:
    """Write FILES under `root` as the manifest's `file` fields lay them out."""
    for repo, files in FILES.items():
        for file_path, text in files.items():
            target = root / "files" / repo.replace("/", "__") / file_path.replace("/", "__")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)


def serve_url_template(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 while the caller's fixture lives; yield the fetch URL template."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/{{repo}}/{{commit}}/{{path}}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    """Serve FILES as `/<repo>/<commit>/<path>` on 127.0.0.1."""
    root = tmp_path / "www"
    for repo, files in FILES.items():
        for file_path, text in files.items():
            target = root / repo / COMMIT / file_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format, *args):
            return None

    yield from serve_url_template(Handler)


def test_fetch_over_http_stores_verified_files(tmp_path, file_server):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "store.jsonl.zst"

    report = fetch_corpus(manifest, store=store, url_template=file_server)

    assert report.fetched == 2
    assert report.failures == []
    records = {record.id: record for record in read_store(store)}
    assert records["acme/app:Dockerfile"].text == FILES["acme/app"]["Dockerfile"]
    assert records["acme/app:Dockerfile"].stages == 2
    assert records["acme/tool:docker/Dockerfile"].license == "MIT"


def test_fetch_reports_hash_mismatch_and_skips_it(tmp_path, file_server):
    manifest = write_manifest(tmp_path / "manifest.jsonl", corrupt="acme/tool")
    store = tmp_path / "store.jsonl.zst"

    report = fetch_corpus(manifest, store=store, url_template=file_server)

    assert [entry_id for entry_id, _ in report.failures] == ["acme/tool:docker/Dockerfile"]
    assert "sha256 mismatch" in report.failures[0][1]
    assert [record.id for record in read_store(store)] == ["acme/app:Dockerfile"]


def test_fetch_is_incremental(tmp_path, file_server):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "store.jsonl.zst"
    fetch_corpus(manifest, store=store, url_template=file_server)

    # The second run must not need the server at all.
    report = fetch_corpus(manifest, store=store, url_template="http://127.0.0.1:9/{repo}/{path}")

    assert report.reused == 2
    assert report.fetched == 0


def test_fetch_names_unreachable_server(tmp_path):
    manifest = write_manifest(tmp_path / "manifest.jsonl")

    report = fetch_corpus(
        manifest, store=tmp_path / "s.jsonl.zst", url_template="http://127.0.0.1:9/{repo}/{commit}/{path}"
    )

    assert len(report.failures) == 2
    assert all(reason.startswith("not fetched") for _, reason in report.failures)


def test_fetch_from_local_copy(tmp_path):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    write_local_copy(tmp_path / "copy")

    report = fetch_corpus(manifest, store=tmp_path / "s.jsonl.zst", from_dir=tmp_path / "copy")

    assert report.fetched == 2


def test_cli_fetch_exit_status_on_failure(tmp_path, capsys):
    manifest = write_manifest(tmp_path / "manifest.jsonl", corrupt="acme/app")
    write_local_copy(tmp_path)

    code = main(["corpus", "fetch", str(manifest), "--store", str(tmp_path / "s.zst"), "--from-dir", str(tmp_path)])

    assert code == 1
    assert "failed acme/app:Dockerfile: sha256 mismatch" in capsys.readouterr().err


def test_cli_fetch_all_failed_names_no_next_command(tmp_path, capsys):
    manifest = write_manifest(tmp_path / "manifest.jsonl", corrupt="acme/app")
    (tmp_path / "copy" / "files" / "acme__app").mkdir(parents=True)
    (tmp_path / "copy" / "files" / "acme__app" / "Dockerfile").write_text("FROM scratch\n")

    code = main(["corpus", "fetch", str(manifest), "--store", str(tmp_path / "s.zst"),
                 "--from-dir", str(tmp_path / "copy")])

    out = capsys.readouterr().out
    assert code == 1
    assert "stored no Dockerfiles, because all 2 failed; no store was written" in out
    assert "study it with" not in out
    assert not (tmp_path / "s.zst").exists()


def test_fetch_from_files_folder_suggests_parent(tmp_path):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    write_local_copy(tmp_path / "copy")
    store = tmp_path / "s.jsonl.zst"

    with pytest.raises(CorpusError) as caught:
        fetch_corpus(manifest, store=store, from_dir=tmp_path / "copy" / "files")

    assert str(caught.value).startswith(
        f"none of the 2 files the manifest names is in --from-dir {tmp_path / 'copy' / 'files'} "
    )
    assert caught.value.hint == (
        f"Pass --from-dir {tmp_path / 'copy'}, the folder that contains files/ as the manifest's `file` fields say."
    )
    assert not store.exists()


def test_fetch_from_unrelated_folder_names_layout(tmp_path):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    (tmp_path / "other").mkdir()

    with pytest.raises(CorpusError) as caught:
        fetch_corpus(manifest, store=tmp_path / "s.jsonl.zst", from_dir=tmp_path / "other")

    assert caught.value.hint is not None
    assert "files/acme__app/Dockerfile" in caught.value.hint
    assert not (tmp_path / "s.jsonl.zst").exists()


@pytest.mark.corpus
def test_real_corpus_from_shared_copy(tmp_path, shared):
    manifest = Path(__file__).resolve().parents[2] / "datasets" / "corpora" / "real-v1" / "manifest.jsonl"
    store = tmp_path / "real-v1.jsonl.zst"

    report = fetch_corpus(manifest, store=store, from_dir=shared / "corpora" / "real-v1")

    assert report.failures == []
    assert report.fetched == 561
    assert sum(1 for _ in load(store)) == 561


def test_interrupted_fetch_keeps_fetched_files(tmp_path, file_server, caplog):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "store.jsonl.zst"
    requests = []

    def interrupt_second(request: httpx.Request) -> None:
        requests.append(request.url)
        if len(requests) == 2:
            raise KeyboardInterrupt

    client = httpx.Client(event_hooks={"request": [interrupt_second]})
    with client, pytest.raises(KeyboardInterrupt):
        fetch_corpus(manifest, store=store, url_template=file_server, client=client)

    assert [record.id for record in read_store(store)] == ["acme/app:Dockerfile"]
    assert f"fetch interrupted: kept 1 of 2 Dockerfiles in {store}" in caplog.text
    resumed = fetch_corpus(manifest, store=store, url_template=file_server)
    assert (resumed.reused, resumed.fetched) == (1, 1)


def test_interrupted_fetch_keeps_earlier_store(tmp_path, file_server):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "store.jsonl.zst"
    fetch_corpus(manifest, store=store, url_template=file_server)
    changed = write_manifest(tmp_path / "changed.jsonl", corrupt="acme/app")

    def interrupt(request: httpx.Request) -> None:
        raise KeyboardInterrupt

    client = httpx.Client(event_hooks={"request": [interrupt]})
    with client, pytest.raises(KeyboardInterrupt):
        fetch_corpus(changed, store=store, url_template=file_server, client=client)

    # The first request was interrupted, so both files keep the records of the first fetch.
    kept = {record.id: record.sha256 for record in read_store(store)}
    assert kept == {entry.id: entry.sha256 for entry in read_manifest(manifest)}


def test_fetch_replaces_unreadable_store(tmp_path, file_server, caplog):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "store.jsonl.zst"
    store.write_text("not a store\n")

    report = fetch_corpus(manifest, store=store, url_template=file_server)

    assert report.fetched == 2
    assert len(list(read_store(store))) == 2
    assert f"ignoring the unreadable store {store}" in caplog.text


def test_cli_fetch_names_next_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "tiny"
    folder.mkdir()
    manifest = write_manifest(folder / "manifest.jsonl")
    write_local_copy(tmp_path / "copy")

    code = main(["corpus", "fetch", str(manifest), "--from-dir", str(tmp_path / "copy")])

    assert code == 0
    out = capsys.readouterr().out
    assert f"stored 2 Dockerfiles in {tmp_path / 'cache' / 'corpora' / 'tiny.jsonl.zst'}" in out
    assert "study it with: cachelab study tiny --mode model --out DIR" in out


def test_cli_fetch_unknown_manifest_lists_shipped(tmp_path, capsys):
    code = main(["corpus", "fetch", "real-v9"])

    assert code == 1
    err = capsys.readouterr().err
    assert "cachelab: error: manifest not found: real-v9" in err
    assert "real-v1" in err


def test_fetch_rejects_missing_local_copy(tmp_path):
    manifest = write_manifest(tmp_path / "manifest.jsonl")

    with pytest.raises(CorpusError) as caught:
        fetch_corpus(manifest, store=tmp_path / "s.jsonl.zst", from_dir=tmp_path / "absent")

    assert str(caught.value) == f"local copy directory not found: {tmp_path / 'absent'}"
    assert not (tmp_path / "s.jsonl.zst").exists()


def test_fetch_stops_when_server_unreachable(tmp_path, file_server):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "store.jsonl.zst"
    fetch_corpus(manifest, store=store, url_template=file_server)
    lines = manifest.read_text().splitlines()
    many = tmp_path / "many.jsonl"
    extra = [json.loads(lines[0]) | {"id": f"acme/app:copy-{number}", "sha256": "1" * 64} for number in range(6)]
    many.write_text("\n".join([*lines, *map(json.dumps, extra)]) + "\n")

    with pytest.raises(CorpusError) as caught:
        fetch_corpus(many, store=store, url_template="http://127.0.0.1:9/{repo}/{commit}/{path}")

    assert str(caught.value).startswith("stopped fetching after 5 downloads in a row failed to connect")
    assert "GET http://127.0.0.1:9/acme/app/" in str(caught.value)
    assert "--from-dir" in caught.value.hint
    # The two files of the first fetch were reused, so the store still has them.
    assert len(list(read_store(store))) == 2


def test_unreachable_first_fetch_writes_no_store(tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    entry = json.loads(write_manifest(tmp_path / "two.jsonl").read_text().splitlines()[0])
    manifest.write_text("".join(json.dumps(entry | {"id": f"copy-{number}"}) + "\n" for number in range(5)))
    store = tmp_path / "store.jsonl.zst"

    with pytest.raises(CorpusError, match="stopped fetching after 5 downloads"):
        fetch_corpus(manifest, store=store, url_template="http://127.0.0.1:9/{repo}/{commit}/{path}")

    assert not store.exists()


def test_load_by_name_and_path(tmp_path, file_server, monkeypatch):
    monkeypatch.setenv("CACHELAB_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "tiny"
    folder.mkdir()
    manifest = write_manifest(folder / "manifest.jsonl")
    report = fetch_corpus(manifest, url_template=file_server)

    by_name = [record.id for record in load("tiny")]
    by_path = [record.id for record in load(report.store)]

    assert by_name == by_path == ["acme/app:Dockerfile", "acme/tool:docker/Dockerfile"]
    with pytest.raises(CorpusError, match="not a fetched store"):
        load(manifest)


@pytest.fixture
def failing_server() -> Iterator[str]:
    """Return HTTP 500 for every GET, on 127.0.0.1."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(500)

        def log_message(self, format, *args):
            return None

    yield from serve_url_template(Handler)


def _edit_first_record(store: Path) -> str:
    """Change the text of the store's first record, keeping its sha256, and return its id."""
    records = list(read_store(store))
    edited = dataclasses.replace(records[0], text=records[0].text.replace("FROM", "FROOM", 1))
    write_store(store, [edited, *records[1:]])
    return edited.id


def test_fetch_refetches_edited_record(tmp_path, file_server):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "store.jsonl.zst"
    fetch_corpus(manifest, store=store, url_template=file_server)
    edited = _edit_first_record(store)

    report = fetch_corpus(manifest, store=store, url_template=file_server)

    assert report.damaged == [edited]
    assert (report.fetched, report.reused) == (1, 1)
    assert report.failures == []
    texts = {record.id: record.text for record in read_store(store)}
    assert texts[edited] == FILES["acme/app"]["Dockerfile"]


def test_cli_fetch_names_edited_record(tmp_path, capsys):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    write_local_copy(tmp_path / "copy")
    store = tmp_path / "s.jsonl.zst"
    fetch_corpus(manifest, store=store, from_dir=tmp_path / "copy")
    edited = _edit_first_record(store)

    code = main(["corpus", "fetch", str(manifest), "--store", str(store), "--from-dir", str(tmp_path / "copy")])

    captured = capsys.readouterr()
    assert code == 0
    assert "(1 fetched, 1 already present, 0 failed)" in captured.out
    assert f"fetched again 1 stored Dockerfile whose text did not match the sha256: {edited}" in captured.err


def test_read_store_rejects_edited_record(tmp_path, file_server):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "store.jsonl.zst"
    fetch_corpus(manifest, store=store, url_template=file_server)
    edited = _edit_first_record(store)

    with pytest.raises(CorpusError) as caught:
        list(load(store))

    assert f"the text of record {edited} (line 1) does not match its sha256" in str(caught.value)
    assert caught.value.hint is not None
    assert "cachelab corpus fetch" in caught.value.hint
    assert [record.id for record in read_store(store, verify=False)][0] == edited


def test_all_downloads_failing_writes_no_store(tmp_path, failing_server):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "store.jsonl.zst"

    report = fetch_corpus(manifest, store=store, url_template=failing_server)

    assert not report.written
    assert [reason for _, reason in report.failures] == [
        f"not fetched: GET {failing_server.format(repo=repo, commit=COMMIT, path=path)} returned HTTP 500"
        for repo, files in FILES.items() for path in files
    ]
    assert not store.exists()


def test_all_downloads_failing_keeps_earlier_store(tmp_path, file_server, failing_server):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "store.jsonl.zst"
    fetch_corpus(manifest, store=store, url_template=file_server)
    before = store.read_bytes()
    # Every sha256 changed, so no stored record is reused and every file is downloaded again.
    other = tmp_path / "other.jsonl"
    other.write_text("".join(
        json.dumps(json.loads(line) | {"sha256": "1" * 64}) + "\n" for line in manifest.read_text().splitlines()
    ))

    report = fetch_corpus(other, store=store, url_template=failing_server)

    assert not report.written
    assert len(report.failures) == 2
    assert store.read_bytes() == before


def test_cli_fetch_stopped_lists_failures(tmp_path, capsys):
    manifest = tmp_path / "manifest.jsonl"
    entry = json.loads(write_manifest(tmp_path / "two.jsonl").read_text().splitlines()[0])
    manifest.write_text("".join(json.dumps(entry | {"id": f"copy-{number}"}) + "\n" for number in range(5)))
    store = tmp_path / "store.jsonl.zst"

    code = main(["corpus", "fetch", str(manifest), "--store", str(store),
                 "--url-template", "http://127.0.0.1:9/{repo}/{commit}/{path}"])

    err = capsys.readouterr().err
    assert code == 1
    assert "cachelab: error: stopped fetching after 5 downloads" in err
    for number in range(5):
        assert f"failed copy-{number}: not fetched: GET http://127.0.0.1:9/" in err
    assert not store.exists()


def test_fetch_into_unwritable_folder_fails_first(tmp_path):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    (tmp_path / "afile").write_text("")
    store = tmp_path / "afile" / "store.jsonl.zst"
    requests: list[httpx.URL] = []
    client = httpx.Client(event_hooks={"request": [lambda request: requests.append(request.url)]})

    with client, pytest.raises(CorpusError) as caught:
        fetch_corpus(manifest, store=store, url_template="http://127.0.0.1:9/{repo}/{commit}/{path}", client=client)

    assert str(caught.value).startswith(f"failed to write the corpus store {store}: ")
    assert "--store" in caught.value.hint
    assert "CACHELAB_CACHE_DIR" in caught.value.hint
    assert requests == []


def test_empty_manifest_leaves_no_folders(tmp_path, capsys):
    manifest = tmp_path / "empty.jsonl"
    manifest.write_text("")
    store = tmp_path / "new" / "sub" / "corpus.jsonl.zst"

    code = main(["corpus", "fetch", str(manifest), "--store", str(store)])

    assert code != 0
    assert "because the manifest lists none" in capsys.readouterr().out
    assert not (tmp_path / "new").exists()


def test_failed_fetch_leaves_no_folders(tmp_path, failing_server):
    manifest = write_manifest(tmp_path / "manifest.jsonl")
    store = tmp_path / "new" / "corpus.jsonl.zst"

    report = fetch_corpus(manifest, store=store, url_template=failing_server)

    assert not report.written
    assert not (tmp_path / "new").exists()
