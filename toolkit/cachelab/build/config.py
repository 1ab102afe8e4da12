"""The image config being built: the OCI image configuration JSON as a dataclass.

Field names follow the OCI image spec (`config.Env`, `rootfs.diff_ids`, ...).
Keys this model does not know are kept in `extra` dictionaries and written back
unchanged, so a base image's config survives a round trip.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# The history author kaniko writes into its cache entries, used here for every
# layer the builder adds.
HISTORY_AUTHOR = "kaniko"


@dataclass
class Healthcheck:
    """`config.Healthcheck`: the test command and Go durations in nanoseconds."""

    test: list[str]
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    start_interval_ns: int = 0
    retries: int = 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"Test": list(self.test)}
        for key, value in (
            ("Interval", self.interval_ns),
            ("Timeout", self.timeout_ns),
            ("StartPeriod", self.start_period_ns),
            ("StartInterval", self.start_interval_ns),
            ("Retries", self.retries),
        ):
            if value:
                data[key] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Healthcheck:
        return cls(
            test=list(data.get("Test") or []),
            interval_ns=int(data.get("Interval", 0)),
            timeout_ns=int(data.get("Timeout", 0)),
            start_period_ns=int(data.get("StartPeriod", 0)),
            start_interval_ns=int(data.get("StartInterval", 0)),
            retries=int(data.get("Retries", 0)),
        )


@dataclass
class HistoryEntry:
    """One `history` item; `empty_layer` marks an entry without a layer in `rootfs`."""

    created_by: str
    created: str = ""
    author: str = HISTORY_AUTHOR
    comment: str = ""
    empty_layer: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.created:
            data["created"] = self.created
        if self.author:
            data["author"] = self.author
        data["created_by"] = self.created_by
        if self.comment:
            data["comment"] = self.comment
        if self.empty_layer:
            data["empty_layer"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HistoryEntry:
        return cls(
            created_by=data.get("created_by", ""),
            created=data.get("created", ""),
            author=data.get("author", ""),
            comment=data.get("comment", ""),
            empty_layer=bool(data.get("empty_layer", False)),
        )


# (JSON key, attribute) of `config`, in the order they are written.
_CONTAINER_FIELDS = (
    ("User", "user"),
    ("ExposedPorts", "exposed_ports"),
    ("Env", "env"),
    ("Entrypoint", "entrypoint"),
    ("Cmd", "cmd"),
    ("Healthcheck", "healthcheck"),
    ("Volumes", "volumes"),
    ("WorkingDir", "working_dir"),
    ("Labels", "labels"),
    ("OnBuild", "on_build"),
    ("StopSignal", "stop_signal"),
    ("Shell", "shell"),
)


@dataclass
class ContainerConfig:
    """`config`: what a container of the image runs with. `None` means absent."""

    user: str = ""
    exposed_ports: dict[str, dict[str, Any]] | None = None
    env: list[str] | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    healthcheck: Healthcheck | None = None
    volumes: dict[str, dict[str, Any]] | None = None
    working_dir: str = ""
    labels: dict[str, str] | None = None
    on_build: list[str] | None = None
    stop_signal: str = ""
    shell: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, attribute in _CONTAINER_FIELDS:
            value = getattr(self, attribute)
            if value is None or value == "":
                continue
            data[key] = value.to_json() if isinstance(value, Healthcheck) else copy.deepcopy(value)
        data.update(copy.deepcopy(self.extra))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ContainerConfig:
        data = dict(data or {})
        result = cls()
        for key, attribute in _CONTAINER_FIELDS:
            if key not in data:
                continue
            value = data.pop(key)
            if key == "Healthcheck":
                value = Healthcheck.from_json(value) if value else None
            setattr(result, attribute, value if value is not None else getattr(result, attribute))
        result.extra = data
        return result

    def env_value(self, name: str) -> str | None:
        """Return the value of `name` in `Env`, or None when unset."""
        for item in self.env or ():
            key, _, value = item.partition("=")
            if key == name:
                return value
        return None

    def set_env(self, name: str, value: str) -> None:
        """Set `name` in `Env`, replacing an earlier value in place (Docker's order)."""
        entries = list(self.env or [])
        for index, item in enumerate(entries):
            if item.partition("=")[0] == name:
                entries[index] = f"{name}={value}"
                break
        else:
            entries.append(f"{name}={value}")
        self.env = entries


@dataclass
class ImageConfig:
    """An OCI image configuration: platform, `config`, `rootfs` and `history`.

    `cmd_set` is build state, not JSON: whether this stage set CMD itself, which
    decides whether ENTRYPOINT clears an inherited CMD.
    """

    architecture: str = "amd64"
    os: str = "linux"
    created: str = ""
    author: str = ""
    config: ContainerConfig = field(default_factory=ContainerConfig)
    diff_ids: list[str] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    cmd_set: bool = False

    @classmethod
    def from_json(cls, raw: bytes | str) -> ImageConfig:
        """Parse a config blob, keeping unknown keys."""
        data = json.loads(raw)
        rootfs = data.pop("rootfs", None) or {}
        result = cls(
            architecture=data.pop("architecture", "amd64"),
            os=data.pop("os", "linux"),
            created=data.pop("created", ""),
            author=data.pop("author", ""),
            config=ContainerConfig.from_json(data.pop("config", None)),
            diff_ids=list(rootfs.get("diff_ids") or []),
            history=[HistoryEntry.from_json(item) for item in data.pop("history", None) or []],
        )
        result.extra = data
        return result

    def to_json(self) -> bytes:
        """Serialise to compact JSON (no spaces), the form written as a blob."""
        data: dict[str, Any] = {}
        if self.created:
            data["created"] = self.created
        if self.author:
            data["author"] = self.author
        data["architecture"] = self.architecture
        data["os"] = self.os
        data["config"] = self.config.to_json()
        data["rootfs"] = {"type": "layers", "diff_ids": list(self.diff_ids)}
        if self.history:
            data["history"] = [entry.to_json() for entry in self.history]
        data.update(copy.deepcopy(self.extra))
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def copy(self) -> ImageConfig:
        return copy.deepcopy(self)

    def append_layer(self, diff_id: str, created_by: str, *, created: datetime | None = None) -> None:
        """Add a layer's diff_id and the history entry naming its instruction."""
        self.diff_ids.append(diff_id)
        self.history.append(HistoryEntry(created_by=created_by, created=_timestamp(created)))

    def append_empty_history(self, created_by: str, *, created: datetime | None = None) -> None:
        """Add a history entry for an instruction that produced no layer."""
        self.history.append(
            HistoryEntry(created_by=created_by, created=_timestamp(created), empty_layer=True)
        )


def _timestamp(moment: datetime | None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
