"""Descriptors, image manifests and configs: parsing, building, platform selection.

Raw manifests and configs are kept as the exact bytes that were stored, because
their sha256 is their identity; the parsed forms are only read from them.
"""

from __future__ import annotations

import json
import platform as host_platform
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cachelab.oci import mediatypes
from cachelab.oci._files import sha256_digest
from cachelab.oci.errors import InvalidManifest

# Python's platform.machine() names mapped to OCI architecture names.
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
                  "armv7l": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
                  "riscv64": "riscv64"}
# A digest as the OCI image spec defines it: algorithm ":" encoded.
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "a boolean", type(None): "null"}


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


def parse_manifest(data: bytes, *, reference: str, digest: str | None) -> dict[str, Any]:
    """Parse image manifest bytes and check the fields readers index into.

    Raises InvalidManifest naming `reference` and `digest` when the bytes are not a
    JSON object, the config descriptor is missing or broken, or `layers` is not a
    list of descriptors.
    """
    document = _parse_object(data, reference, digest, "manifest")
    _check_descriptor(document.get("config"), "config", reference, digest, "manifest")
    layers = document.get("layers")
    if layers is None:
        return document
    if not isinstance(layers, list):
        raise InvalidManifest(reference, digest, f"'layers' is {_json_type(layers)}, not an array")
    for position, layer in enumerate(layers):
        _check_descriptor(layer, f"layers[{position}]", reference, digest, "manifest")
    return document


def parse_index(data: bytes, *, reference: str, digest: str | None) -> dict[str, Any]:
    """Parse image index bytes; raises InvalidManifest unless `manifests` is a list of descriptors."""
    document = _parse_object(data, reference, digest, "index")
    manifests = document.get("manifests")
    if not isinstance(manifests, list):
        raise InvalidManifest(reference, digest, f"'manifests' is {_json_type(manifests)}, not an array",
                              kind="index")
    for position, entry in enumerate(manifests):
        _check_descriptor(entry, f"manifests[{position}]", reference, digest, "index")
        if not isinstance(entry.get("platform") or {}, dict):
            raise InvalidManifest(reference, digest, f"manifests[{position}].platform is not an object", kind="index")
    return document


def parse_config(data: bytes, *, reference: str, digest: str | None) -> dict[str, Any]:
    """Parse image config bytes; raises InvalidManifest when `config`, `rootfs` or `history` has the wrong type."""
    document = _parse_object(data, reference, digest, "config")
    for name, expected in (("config", dict), ("rootfs", dict), ("history", list)):
        value = document.get(name)
        if value is not None and not isinstance(value, expected):
            raise InvalidManifest(reference, digest, f"'{name}' is {_json_type(value)}, not {_JSON_TYPES[expected]}",
                                  kind="config")
    diff_ids = (document.get("rootfs") or {}).get("diff_ids")
    if diff_ids is not None and not (isinstance(diff_ids, list) and all(isinstance(item, str) for item in diff_ids)):
        raise InvalidManifest(reference, digest, "'rootfs.diff_ids' is not an array of strings", kind="config")
    return document


def _parse_object(data: bytes, reference: str, digest: str | None, kind: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidManifest(reference, digest, f"not valid JSON ({error})", kind=kind) from None
    if not isinstance(document, dict):
        raise InvalidManifest(reference, digest, f"the document is {_json_type(document)}, not a JSON object",
                              kind=kind)
    return document


def _check_descriptor(value: object, name: str, reference: str, digest: str | None, kind: str) -> None:
    if value is None:
        raise InvalidManifest(reference, digest, f"'{name}' is missing", kind=kind)
    if not isinstance(value, dict):
        raise InvalidManifest(reference, digest, f"'{name}' is {_json_type(value)}, not a descriptor object",
                              kind=kind)
    found = value.get("digest")
    if not isinstance(found, str) or not _DIGEST.match(found):
        raise InvalidManifest(reference, digest, f"{name}.digest {found!r} is not a digest (algorithm:hex)",
                              kind=kind)
    size = value.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidManifest(reference, digest, f"{name}.size {size!r} is not a non-negative integer", kind=kind)


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


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
