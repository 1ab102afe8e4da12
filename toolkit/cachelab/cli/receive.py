"""`cachelab receive`: collect kaniko's OTLP traces and save them as the record tables."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from cachelab.cli._arguments import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "receive",
        help="receive OTLP/HTTP traces (e.g. from kaniko) and save them as tables",
        description=(
            "Listen for OTLP/HTTP trace exports on POST /v1/traces (JSON or protobuf), "
            "append each request to DIR/traces.otlp.jsonl, and on Ctrl-C or after "
            "--max-requests write the builds, stages, instructions and spans tables "
            "of the received kaniko traces as Parquet files into DIR (SIGTERM acts like "
            "Ctrl-C). Point kaniko at "
            "it with KANIKO_TELEMETRY_ENDPOINT=http://HOST:PORT. A span received twice (same "
            "trace id and span id), as an exporter resends an export after a timeout, is "
            "counted once, with a warning. A build whose spans cannot be read is reported and "
            "left out, and the other builds are written."
        ),
    )
    parser.add_argument(
        "--port", type=_port, default=4318, help="TCP port from 1 to 65535, or 0 for a free one (default: 4318)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument(
        "--out", required=True, metavar="DIR",
        help="directory for the requests file and tables; a DIR that already contains traces.otlp.jsonl "
        "is rejected unless --force is given",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="delete the traces.otlp.jsonl already in DIR, so the tables contain only the requests of this run",
    )
    parser.add_argument(
        "--max-requests", type=positive_int, metavar="N", help="stop after N stored requests (at least 1)"
    )
    parser.add_argument("--run-id", default="ingest", help="run_id of the received builds (default: ingest)")
    parser.set_defaults(handler=run)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected a whole number from 0 to 65535")
    return value


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # A service manager stops the receiver with SIGTERM; it should still save the tables.
    raise KeyboardInterrupt


def _check_requests_file(requests_path: Path, *, force: bool) -> None:
    """Reject an earlier requests file, because the receiver appends to it and the tables would mix both runs.

    With `force`, delete that file instead.
    """
    from cachelab.ingest.errors import IngestError

    if not requests_path.exists():
        return
    if not force:
        raise IngestError(
            f"--out {requests_path.parent} already contains {requests_path.name} from an earlier receive",
            hint="Pass a new directory, or add --force to delete those requests and receive new ones.",
        )
    requests_path.unlink()


def run(args: argparse.Namespace) -> int:
    from cachelab.ingest.errors import IngestError
    from cachelab.ingest.kaniko import ingest_kaniko_traces
    from cachelab.ingest.receiver import REQUESTS_FILE, TraceReceiver

    _check_requests_file(Path(args.out) / REQUESTS_FILE, force=args.force)
    receiver = TraceReceiver(args.out, host=args.host, port=args.port, max_requests=args.max_requests)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    print(f"listening on {receiver.url}", flush=True)
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)

    if receiver.received == 0 or not receiver.requests_path.exists():
        print(f"no requests received, so nothing was written to {args.out}", file=sys.stderr)
        return 0
    try:
        recording = ingest_kaniko_traces([receiver.requests_path], run_id=args.run_id)
    except IngestError as exc:
        requests_note = (
            f"The received requests stay in {receiver.requests_path}, "
            "which `cachelab ingest kaniko-trace` reads again."
        )
        hint = f"{exc.hint} {requests_note}" if exc.hint else requests_note
        raise IngestError(str(exc), hint=hint) from exc
    recording.save(args.out)
    print(f"wrote {len(recording.builds)} builds from {receiver.received} requests to {args.out}")
    return 0
