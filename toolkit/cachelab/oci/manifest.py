"""Descriptors, image manifests and configs: parsing, building, platform selection.

Raw manifests and configs are kept as the exact bytes that were stored, because
their sha256 is their identity; the parsed forms are only read from them.
"""

from __future__ import annotations

import json
import platform as host_platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cachelab.oci import mediatypes
from cachelab.oci._files import sha256_digest

# Python's platform.machine() names mapped to OCI architecture names.
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
                  "armv7l": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
                  "riscv64": "riscv64"}


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A content descriptor: media type, digest and size of a blob, plus annotations."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            document["annotations"] = dict(self.annotations)
        if self.platform:
            document["platform"] = dict(self.platform)
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Descriptor:
        return cls(document.get("mediaType", ""), document["digest"], int(document["size"]),
                   dict(document.get("annotations") or {}), document.get("platform"))


@dataclass(frozen=True, slots=True)
class RawManifest:
    """Manifest or index bytes as a registry or layout store returned them, with media type and digest."""

    data: bytes
    media_type: str
    digest: str


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform: os, architecture and optional variant."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse `os/arch[/variant]`, such as linux/amd64 or linux/arm64/v8."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"invalid platform {text!r}; expected os/arch[/variant] such as linux/amd64")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def host(cls) -> Platform:
        """Return linux/<the host's architecture>, or linux/amd64 for an unknown one."""
        return cls("linux", _ARCHITECTURES.get(host_platform.machine().lower(), "amd64"))

    def matches(self, document: dict[str, Any]) -> bool:
        if document.get("os") != self.os or document.get("architecture") != self.architecture:
            return False
        return self.variant is None or document.get("variant") == self.variant

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


def select_platform(index: dict[str, Any], requested: Platform) -> Descriptor | None:
    """Return the index entry for `requested`, or None when the index has none.

    Without a variant in `requested`, the first entry of that os and architecture wins.
    """
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        if requested.matches(platform):
            return Descriptor.from_json(entry)
    return None


def platforms_of(index: dict[str, Any]) -> list[str]:
    found = []
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        text = f"{platform.get('os', '?')}/{platform.get('architecture', '?')}"
        if platform.get("variant"):
            text += f"/{platform['variant']}"
        found.append(text)
    return found


def canonical_json(document: dict[str, Any]) -> bytes:
    """Serialize compactly with sorted keys, so equal documents give equal digests."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a config timestamp must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """Parse a config `created` value, including Go's nanosecond precision, into UTC."""
    text = text.strip().replace("Z", "+00:00")
    main, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        text = f"{main}.{digits[:6].ljust(6, '0')}{zone}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def build_config(
    *,
    diff_ids: list[str],
    created: datetime,
    history: list[dict[str, Any]],
    env: list[str] | None = None,
    cmd: list[str] | None = None,
    labels: dict[str, str] | None = None,
    target: Platform | None = None,
) -> bytes:
    """Build an image config (the same JSON for OCI and Docker schema 2)."""
    target = target or Platform.host()
    container: dict[str, Any] = {}
    if env:
        container["Env"] = list(env)
    if cmd:
        container["Cmd"] = list(cmd)
    if labels:
        container["Labels"] = dict(labels)
    document: dict[str, Any] = {
        "architecture": target.architecture,
        "os": target.os,
        "created": rfc3339(created),
        "config": container,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": history,
    }
    if target.variant:
        document["variant"] = target.variant
    return canonical_json(document)


def build_manifest(config: bytes, layers: list[Descriptor], *, docker: bool = False) -> tuple[bytes, str]:
    """Build an image manifest for `config` and `layers`; returns (bytes, media type)."""
    media_type = mediatypes.DOCKER_MANIFEST if docker else mediatypes.OCI_MANIFEST
    config_descriptor = Descriptor(mediatypes.config_media_type_for(media_type), sha256_digest(config), len(config))
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config_descriptor.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }
    return canonical_json(document), media_type


def build_index(manifests: list[Descriptor], *, docker: bool = False) -> tuple[bytes, str]:
    """Build an image index (or Docker manifest list); returns (bytes, media type)."""
    media_type = mediatypes.DOCKER_MANIFEST_LIST if docker else mediatypes.OCI_INDEX
    document = {"schemaVersion": 2, "mediaType": media_type, "manifests": [m.to_json() for m in manifests]}
    return canonical_json(document), media_type
