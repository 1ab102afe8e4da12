"""Split kaniko log lines into level, time and message, whatever the log format.

kaniko (osscontainertools fork, all versions) writes logrus output in one of three
formats chosen by `--log-format`:

- `color` (default): `INFO[0012] message`, with ANSI colour codes around the
  level. The bracket contains seconds since start, or a timestamp with
  `--log-timestamp`. The message is padded to 44 columns.
- `text`: logfmt, `time="2026-12-04T20:02:16Z" level=info msg="message"`.
- `json`: one object per line with `level`, `msg` and `time`.

Output of the build's own commands is interleaved without a prefix; those lines
have no level and are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from cachelab.ingest.timestamps import parse_time

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_COLOR_LINE = re.compile(r"^(INFO|WARN|WARNING|DEBU|DEBUG|ERRO|ERROR|TRAC|FATA|PANI)\[([^\]]*)\]\s?(.*)$")
_LOGFMT_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')

# logrus level names by their four-letter form in the color format.
_LEVELS = {
    "INFO": "info", "WARN": "warning", "WARNING": "warning", "DEBU": "debug", "DEBUG": "debug",
    "ERRO": "error", "ERROR": "error", "TRAC": "trace", "FATA": "fatal", "PANI": "panic",
}


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log message.

    `time` is set when the log has absolute timestamps, and `elapsed_s` when it has
    the color format's seconds since start. The other one is None.
    """

    line: int
    level: str
    message: str
    time: datetime | None = None
    elapsed_s: float | None = None


def read_records(lines: Iterable[str]) -> Iterator[LogRecord]:
    """Yield the log records of `lines`, skipping lines without a level."""
    for number, raw in enumerate(lines, start=1):
        text = ANSI_ESCAPE.sub("", raw).rstrip("\r\n")
        record = parse_line(text, number)
        if record is not None:
            yield record


def parse_line(text: str, number: int) -> LogRecord | None:
    """Return the record of one ANSI-free line, or None if it is not a log line."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return _json_record(stripped, number)
    if stripped.startswith(("time=", "level=")):
        return _logfmt_record(stripped, number)
    match = _COLOR_LINE.match(stripped)
    if match is None:
        return None
    level, bracket, message = match.groups()
    time, elapsed = None, None
    if bracket.isdigit():
        elapsed = float(bracket)
    else:
        time = parse_time(bracket)
    return LogRecord(number, _LEVELS[level], message.rstrip(), time, elapsed)


def _json_record(text: str, number: int) -> LogRecord | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict) or "msg" not in value:
        return None
    time = parse_time(str(value["time"])) if "time" in value else None
    return LogRecord(number, str(value.get("level", "info")).lower(), str(value["msg"]), time)


def _logfmt_record(text: str, number: int) -> LogRecord | None:
    fields = {}
    for key, value in _LOGFMT_PAIR.findall(text):
        if value.startswith('"'):
            value = _unquote(value)
        fields[key] = value
    if "msg" not in fields:
        return None
    time = parse_time(fields["time"]) if "time" in fields else None
    return LogRecord(number, fields.get("level", "info").lower(), fields["msg"], time)


def _unquote(value: str) -> str:
    # logrus quotes with Go's strconv.Quote. JSON string syntax covers its escapes
    # except \xNN, which only appears for invalid UTF-8.
    try:
        return str(json.loads(value))
    except json.JSONDecodeError:
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
