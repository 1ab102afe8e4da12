"""The OTLP/HTTP receiver, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cachelab.cli import main
from cachelab.ingest.kaniko import ingest_kaniko_traces
from cachelab.ingest.receiver import REQUESTS_FILE, TraceReceiver
from cachelab.record import Recording
from tests.fixtures.paths import REPO_ROOT

TRACE = Path(__file__).parent / "data" / "kaniko-classic-cold.otlp.json"


def _post(url: str, **kwargs: object) -> httpx.Response:
    # Proxy settings from the environment must not divert loopback requests.
    with httpx.Client(trust_env=False) as client:
        return client.post(url, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[TraceReceiver]:
    server = TraceReceiver(tmp_path / "out", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join(timeout=10)


def test_receiver_stores_json_request(receiver: TraceReceiver) -> None:
    response = _post(receiver.url, content=TRACE.read_bytes(), headers={"Content-Type": "application/json"})

    assert response.status_code == 200
    assert response.json() == {}
    lines = receiver.requests_path.read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == json.loads(TRACE.read_text())


def test_receiver_binds_loopback(receiver: TraceReceiver) -> None:
    assert receiver.address[0] == "127.0.0.1"


def test_receiver_requests_ingest_like_file(receiver: TraceReceiver) -> None:
    document = json.loads(TRACE.read_text())
    # Send the two resourceSpans entries as two requests, as a batching exporter may.
    for part in document["resourceSpans"]:
        body = gzip.compress(json.dumps({"resourceSpans": [part]}).encode())
        response = _post(
            receiver.url, content=body,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert response.status_code == 200

    received = ingest_kaniko_traces([receiver.requests_path]).instructions
    expected = ingest_kaniko_traces([TRACE]).instructions

    assert received.equals(expected)


def test_receiver_stores_protobuf_request(receiver: TraceReceiver) -> None:
    json_format = pytest.importorskip("google.protobuf.json_format")
    trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
    message = json_format.ParseDict(json.loads(TRACE.read_text()), trace_service.ExportTraceServiceRequest())

    response = _post(
        receiver.url, content=message.SerializeToString(), headers={"Content-Type": "application/x-protobuf"}
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-protobuf"
    received = ingest_kaniko_traces([receiver.requests_path]).instructions
    assert received["decision"].tolist() == ["miss", "hit", "hit", "miss", "not-probed"]


@pytest.mark.parametrize(
    ("path", "content_type", "body", "status"),
    [
        ("/v1/metrics", "application/json", b"{}", 404),
        ("/v1/traces", "text/plain", b"{}", 415),
        ("/v1/traces", "application/json", b"{not json", 400),
        ("/v1/traces", "application/json", b'{"resourceSpans": {}}', 400),
    ],
)
def test_receiver_rejects_bad_requests(
    receiver: TraceReceiver, path: str, content_type: str, body: bytes, status: int
) -> None:
    host, port = receiver.address
    response = _post(f"http://{host}:{port}{path}", content=body, headers={"Content-Type": content_type})

    assert response.status_code == status
    assert "message" in response.json()
    assert not receiver.requests_path.exists()


def _receive(out: Path, bodies: list[bytes], *, max_requests: int | None,
             options: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """Run `cachelab receive`, post `bodies` as JSON exports, and return its exit code, stdout and stderr.

    Without `max_requests`, the receiver is stopped with SIGTERM after the last body.
    """
    command = [sys.executable, "-m", "cachelab", "receive", "--port", "0", "--out", str(out), *options]
    if max_requests is not None:
        command += ["--max-requests", str(max_requests)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("listening on http://127.0.0.1:")
        url = first.split()[-1]

        for body in bodies:
            response = _post(url, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 200
        if max_requests is None:
            process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, first + stdout, stderr


@pytest.mark.parametrize("stop", ["max-requests", "sigterm"])
def test_receive_command_writes_tables(tmp_path: Path, stop: str) -> None:
    out = tmp_path / "out"

    code, stdout, stderr = _receive(out, [TRACE.read_bytes()], max_requests=1 if stop == "max-requests" else None)

    assert code == 0, stderr
    assert "wrote 1 builds from 1 requests" in stdout
    assert (out / REQUESTS_FILE).is_file()
    recording = Recording.load(out)
    assert recording.builds["engine"].tolist() == ["kaniko"]
    assert len(recording.instructions) == 5


def test_receive_command_resent_export(tmp_path: Path) -> None:
    out = tmp_path / "out"

    # An exporter whose request timed out sends the same export again.
    code, stdout, stderr = _receive(out, [TRACE.read_bytes()] * 2, max_requests=2)

    assert code == 0, stderr
    assert "wrote 1 builds from 2 requests" in stdout
    assert stderr.count("duplicate spans") == 1
    assert "more than once" not in stderr
    recording = Recording.load(out)
    assert len(recording.builds) == 1
    assert len(recording.instructions) == 5


def test_receive_command_unreadable_build_keeps_requests(tmp_path: Path) -> None:
    out = tmp_path / "out"
    body = TRACE.read_text().replace('"key": "kaniko.stage"', '"key": "kaniko.stage.renamed"')

    code, _, stderr = _receive(out, [body.encode()], max_requests=1)

    assert code == 1
    assert "has no kaniko.stage attribute" in stderr
    assert f"The received requests stay in {out / REQUESTS_FILE}" in stderr
    assert (out / REQUESTS_FILE).is_file()
    assert not (out / "builds.parquet").exists()


def test_receive_command_rejects_earlier_requests(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    requests = out / REQUESTS_FILE
    requests.write_text("earlier requests\n")

    # A subprocess with a timeout, because a receiver that accepted DIR would wait for requests.
    command = [sys.executable, "-m", "cachelab", "receive", "--port", "0", "--out", str(out), "--max-requests", "1"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)

    assert result.returncode == 1
    assert f"cachelab: error: --out {out} already contains {REQUESTS_FILE} from an earlier receive" in result.stderr
    assert "add --force" in result.stderr
    assert "listening on" not in result.stdout
    assert requests.read_text() == "earlier requests\n"


def test_receive_command_force_replaces_requests(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, stderr = _receive(out, [TRACE.read_bytes()], max_requests=1)
    assert code == 0, stderr

    code, stdout, stderr = _receive(out, [TRACE.read_bytes()], max_requests=1, options=("--force",))

    assert code == 0, stderr
    assert "wrote 1 builds from 1 requests" in stdout
    assert "duplicate spans" not in stderr
    assert len((out / REQUESTS_FILE).read_text().splitlines()) == 1
    assert len(Recording.load(out).instructions) == 5


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_receive_command_rejects_port(tmp_path: Path, capsys: pytest.CaptureFixture[str], port: str) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["receive", "--port", port, "--out", str(tmp_path / "out")])

    assert raised.value.code == 2
    assert f"invalid port {port!r}: expected a whole number from 0 to 65535" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_receive_command_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code = main(["receive", "--port", str(port), "--out", str(tmp_path / "out")])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot listen on 127.0.0.1 port {port}: Address already in use" in err
    assert "hint: Pass another port, or 0 for a free one" in err
