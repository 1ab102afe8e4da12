"""`ADD <url>` through the builder, against an HTTP server on 127.0.0.1.

kaniko keys `ADD <url>` on the instruction's text alone, so a changed remote
file keeps the key and a warm build reuses the old layer. The planner records
the `add-remote-unchecksummed` risk on such a stage.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cachelab.build.errors import ChecksumMismatch, CopyError
from cachelab.build.request import BuildResult
from cachelab.events import Event, StageRecorded
from cachelab.plan.decisions import RISK_ADD_REMOTE_UNCHECKSUMMED
from tests.fixtures.builder import build_text

FIRST_CONTENT = b"first version of the remote file\n"
SECOND_CONTENT = b"second version, served after an upstream change\n"


class FileServer:
    """An HTTP server on 127.0.0.1 serving `files` (URL path -> bytes), changeable while it runs."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def _file_in_layers(layout: Path, result: BuildResult, name: str) -> tuple[bytes, int]:
    """Return the content and mode of `name` in the last layer of `result` that contains it."""
    found: tuple[bytes, int] | None = None
    for layer in result.image.layers:
        data = (layout / "blobs" / "sha256" / layer.digest.split(":", 1)[1]).read_bytes()
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as archive:
            for member in archive.getmembers():
                if member.name.lstrip("./") == name and member.isfile():
                    extracted = archive.extractfile(member)
                    assert extracted is not None
                    found = (extracted.read(), member.mode)
    assert found is not None, f"{name} is in no layer"
    return found


def _risks(events: list[Event]) -> dict[int, tuple[str, ...]]:
    return {event.stage_index: event.key_risks for event in events if isinstance(event, StageRecorded)}


def test_add_url_with_good_checksum(tmp_path: Path, image_store: Path, file_server: FileServer) -> None:
    file_server.files["/files/hello.txt"] = FIRST_CONTENT
    digest = hashlib.sha256(FIRST_CONTENT).hexdigest()
    url = file_server.url("/files/hello.txt")
    text = f"FROM busybox\nADD --checksum=sha256:{digest} {url} /data/\nRUN grep -q 'first version' /data/hello.txt\n"

    result, events = build_text(tmp_path, image_store, text, destination=f"oci:{tmp_path / 'out'}:latest")

    content, mode = _file_in_layers(tmp_path / "out", result, "data/hello.txt")
    assert content == FIRST_CONTENT
    assert mode & 0o777 == 0o600
    assert file_server.requests == ["/files/hello.txt"]
    assert RISK_ADD_REMOTE_UNCHECKSUMMED not in _risks(events)[0]


def test_add_url_with_bad_checksum(tmp_path: Path, image_store: Path, file_server: FileServer) -> None:
    file_server.files["/files/hello.txt"] = FIRST_CONTENT
    actual = hashlib.sha256(FIRST_CONTENT).hexdigest()
    expected = hashlib.sha256(b"something else").hexdigest()
    url = file_server.url("/files/hello.txt")
    text = f"FROM busybox\nADD --checksum=sha256:{expected} {url} /data/hello.txt\n"

    with pytest.raises(ChecksumMismatch) as failure:
        build_text(tmp_path, image_store, text)

    message = str(failure.value)
    assert message.startswith(f"{tmp_path / 'Dockerfile'}:2: ADD --checksum=")
    assert url in message
    assert f"expected sha256:{expected}" in message
    assert f"got sha256:{actual}" in message
    assert failure.value.hint is not None


def test_add_url_not_found(tmp_path: Path, image_store: Path, file_server: FileServer) -> None:
    url = file_server.url("/files/missing.txt")

    with pytest.raises(CopyError) as failure:
        build_text(tmp_path, image_store, f"FROM busybox\nADD {url} /data/\n")

    assert str(failure.value) == f"{tmp_path / 'Dockerfile'}:2: ADD {url} /data/: download of {url} failed: HTTP 404"


def test_add_url_key_ignores_content(tmp_path: Path, image_store: Path, file_server: FileServer) -> None:
    file_server.files["/files/hello.txt"] = FIRST_CONTENT
    url = file_server.url("/files/hello.txt")
    text = f"FROM busybox\nADD {url} /data/\nRUN cat /data/hello.txt > /copy.txt\n"
    destination = f"oci:{tmp_path / 'out'}:latest"

    cold, cold_events = build_text(tmp_path, image_store, text, destination=destination)
    file_server.files["/files/hello.txt"] = SECOND_CONTENT
    warm, warm_events = build_text(tmp_path, image_store, text, destination=destination)

    assert [item.key for item in cold.stages[0].instructions] == [item.key for item in warm.stages[0].instructions]
    assert [item.decision for item in cold.stages[0].instructions] == ["miss", "not-probed"]
    assert [item.decision for item in warm.stages[0].instructions] == ["hit", "hit"]
    # The warm build reuses the layer of the first content and never downloads the second.
    assert file_server.requests == ["/files/hello.txt"]
    assert _file_in_layers(tmp_path / "out", warm, "copy.txt")[0] == FIRST_CONTENT
    assert RISK_ADD_REMOTE_UNCHECKSUMMED in _risks(cold_events)[0]
    assert RISK_ADD_REMOTE_UNCHECKSUMMED in _risks(warm_events)[0]
    assert RISK_ADD_REMOTE_UNCHECKSUMMED in warm.stages[0].key_risks


def test_add_url_no_cache_fetches_again(tmp_path: Path, image_store: Path, file_server: FileServer) -> None:
    file_server.files["/files/hello.txt"] = FIRST_CONTENT
    url = file_server.url("/files/hello.txt")
    text = f"FROM busybox\nADD {url} /data/\n"
    destination = f"oci:{tmp_path / 'out'}:latest"

    build_text(tmp_path, image_store, text, strategy="no-cache")
    file_server.files["/files/hello.txt"] = SECOND_CONTENT
    result, _ = build_text(tmp_path, image_store, text, strategy="no-cache", destination=destination)

    assert file_server.requests == ["/files/hello.txt", "/files/hello.txt"]
    assert _file_in_layers(tmp_path / "out", result, "data/hello.txt")[0] == SECOND_CONTENT
