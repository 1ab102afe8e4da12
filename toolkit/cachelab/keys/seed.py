"""The seed of a stage on a remote base: the digest of kaniko's rewritten base image.

kaniko (osscontainertools fork, commit 6bcc934, `newStageBuilder`) does not start
a stage's key with the registry's manifest digest. It rewrites the base image
with go-containerregistry's `mutate` package and starts with the digest of the
result:

1. manifest annotations are dropped (`FF_KANIKO_NO_PROPAGATE_ANNOTATIONS`, on by
   default); with the flag off every annotation key is kept with an empty value;
2. the config's `created` is set to the zero time and `config.Labels` is emptied
   (an empty map is omitted from the JSON);
3. the config is decoded into go-containerregistry's `v1.ConfigFile` and encoded
   again with Go's `encoding/json`, which drops unknown fields (such as
   `container_config`), fixes the field order and re-formats times and strings;
4. the manifest, decoded into `v1.Manifest`, gets the new config's digest and
   size and is encoded again. The seed is `sha256:` + the SHA-256 of those bytes.

So base labels, base creation time and (by default) annotations never affect
keys, while any other config change does.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachelab.keys import gojson
from cachelab.keys.errors import BaseImageFormatError

ZERO_TIME = "0001-01-01T00:00:00Z"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)

# --- Go types, as (decode, encode-is-empty) pairs --------------------------------------

Decoder = Callable[[Any, str], Any]


@dataclass(frozen=True)
class Field:
    """One struct field: JSON name, decoder, zero value factory and `omitempty`."""

    name: str
    decode: Decoder
    zero: Callable[[], Any]
    omitempty: bool = False


def _fail(where: str, expected: str, value: Any) -> BaseImageFormatError:
    return BaseImageFormatError(where, f"expected {expected}, got {json.dumps(value)[:80]}")


def _decode_str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(where, "a string", value)
    return value


def _decode_bool(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _fail(where, "a boolean", value)
    return value


def _decode_int(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, "an integer", value)
    return value


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)


def go_time(text: str, where: str = "time") -> str:
    """Re-format an RFC 3339 time the way Go's `time.Time.MarshalJSON` writes it.

    Fractional seconds are kept to nanoseconds with trailing zeros removed, and a
    zero UTC offset is written `Z`.
    """
    found = _RFC3339.match(text)
    if found is None:
        raise BaseImageFormatError(where, f"invalid RFC 3339 time {text!r}")
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    try:
        dt.datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise BaseImageFormatError(where, f"invalid time {text!r}: {exc}") from exc
    fraction = (found.group(7) or "")[:9].rstrip("0")
    if found.group(8) or (int(found.group(10) or 0) == 0 and int(found.group(11) or 0) == 0):
        zone = "Z"
    else:
        zone = f"{found.group(9)}{found.group(10)}:{found.group(11)}"
    dot = "." + fraction if fraction else ""
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{dot}{zone}"


def _decode_time(value: Any, where: str) -> str:
    if value is None:
        return ZERO_TIME
    if not isinstance(value, str):
        raise _fail(where, "a time string", value)
    return go_time(value, where)


_HEX = re.compile(r"[0-9a-f]*\Z")


def _decode_hash(value: Any, where: str) -> str:
    if value is None:
        return ":"
    if not isinstance(value, str):
        raise _fail(where, "a digest string", value)
    algorithm, colon, hex_digits = value.partition(":")
    if not colon or ":" in hex_digits or not _HEX.match(hex_digits):
        raise BaseImageFormatError(where, f"cannot parse digest {value!r}")
    if algorithm != "sha256" or len(hex_digits) != 64:
        raise BaseImageFormatError(where, f"unsupported digest {value!r}: expected sha256 and 64 hex")
    return value


def _decode_bytes(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(where, "base64 data", value)
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise BaseImageFormatError(where, f"invalid base64 data: {exc}") from exc
    return base64.b64encode(raw).decode("ascii")


def _list_of(element: Decoder) -> Decoder:
    def decode(value: Any, where: str) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise _fail(where, "an array", value)
        return [element(item, f"{where}[{index}]") for index, item in enumerate(value)]

    decode.element = element  # type: ignore[attr-defined]
    return decode


def _map_of(element: Decoder) -> Decoder:
    def decode(value: Any, where: str) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _fail(where, "an object", value)
        return {key: element(item, f"{where}.{key}") for key, item in value.items()}

    return decode


def _empty_struct(value: Any, where: str) -> dict[str, Any]:
    if value is not None and not isinstance(value, dict):
        raise _fail(where, "an object", value)
    return {}


def _struct(fields: list[Field]) -> Decoder:
    by_name = {field.name: field for field in fields}
    by_folded = {field.name.lower(): field for field in fields}

    def decode(value: Any, where: str) -> dict[str, Any]:
        result = {field.name: field.zero() for field in fields}
        if value is None:
            return result
        if not isinstance(value, dict):
            raise _fail(where, "an object", value)
        for key, item in value.items():
            # Go matches an exact field name first, else one that differs only in case.
            field = by_name.get(key) or by_folded.get(key.lower())
            if field is not None:
                result[field.name] = field.decode(item, f"{where}.{key}")
        return result

    decode.fields = fields  # type: ignore[attr-defined]
    return decode


def _pointer(decoder: Decoder) -> Decoder:
    def decode(value: Any, where: str) -> Any:
        return None if value is None else decoder(value, where)

    decode.fields = decoder.fields  # type: ignore[attr-defined]
    return decode


_STRINGS = _list_of(_decode_str)
_STRING_MAP = _map_of(_decode_str)
_SET_MAP = _map_of(_empty_struct)


def _none() -> None:
    return None


def _str_field(name: str, omitempty: bool = True) -> Field:
    return Field(name, _decode_str, str, omitempty)


def _bool_field(name: str) -> Field:
    return Field(name, _decode_bool, bool, True)


HISTORY = _struct([
    _str_field("author"),
    Field("created", _decode_time, lambda: ZERO_TIME),
    _str_field("created_by"),
    _str_field("comment"),
    _bool_field("empty_layer"),
])

ROOTFS = _struct([
    _str_field("type", omitempty=False),
    Field("diff_ids", _list_of(_decode_hash), _none),
])

HEALTH_CONFIG = _struct([
    Field("Test", _STRINGS, _none, True),
    Field("Interval", _decode_int, int, True),
    Field("Timeout", _decode_int, int, True),
    Field("StartPeriod", _decode_int, int, True),
    Field("Retries", _decode_int, int, True),
])

CONFIG = _struct([
    _bool_field("AttachStderr"),
    _bool_field("AttachStdin"),
    _bool_field("AttachStdout"),
    Field("Cmd", _STRINGS, _none, True),
    Field("Healthcheck", _pointer(HEALTH_CONFIG), _none, True),
    _str_field("Domainname"),
    Field("Entrypoint", _STRINGS, _none, True),
    Field("Env", _STRINGS, _none, True),
    _str_field("Hostname"),
    _str_field("Image"),
    Field("Labels", _STRING_MAP, _none, True),
    Field("OnBuild", _STRINGS, _none, True),
    _bool_field("OpenStdin"),
    _bool_field("StdinOnce"),
    _bool_field("Tty"),
    _str_field("User"),
    Field("Volumes", _SET_MAP, _none, True),
    _str_field("WorkingDir"),
    Field("ExposedPorts", _SET_MAP, _none, True),
    _bool_field("ArgsEscaped"),
    _bool_field("NetworkDisabled"),
    _str_field("MacAddress"),
    _str_field("StopSignal"),
    Field("Shell", _STRINGS, _none, True),
])

CONFIG_FILE = _struct([
    _str_field("architecture", omitempty=False),
    _str_field("author"),
    _str_field("container"),
    Field("created", _decode_time, lambda: ZERO_TIME),
    _str_field("docker_version"),
    Field("history", _list_of(HISTORY), _none, True),
    _str_field("os", omitempty=False),
    Field("rootfs", ROOTFS, lambda: ROOTFS(None, "rootfs")),
    Field("config", CONFIG, lambda: CONFIG(None, "config")),
    _str_field("os.version"),
    _str_field("variant"),
    Field("os.features", _STRINGS, _none, True),
])

PLATFORM = _struct([
    _str_field("architecture", omitempty=False),
    _str_field("os", omitempty=False),
    _str_field("os.version"),
    Field("os.features", _STRINGS, _none, True),
    _str_field("variant"),
    Field("features", _STRINGS, _none, True),
])

DESCRIPTOR = _struct([
    _str_field("mediaType", omitempty=False),
    Field("size", _decode_int, int),
    Field("digest", _decode_hash, lambda: ":"),
    Field("data", _decode_bytes, _none, True),
    Field("urls", _STRINGS, _none, True),
    Field("annotations", _STRING_MAP, _none, True),
    Field("platform", _pointer(PLATFORM), _none, True),
    _str_field("artifactType"),
])

MANIFEST = _struct([
    Field("schemaVersion", _decode_int, int),
    _str_field("mediaType"),
    Field("config", DESCRIPTOR, lambda: DESCRIPTOR(None, "config")),
    Field("layers", _list_of(DESCRIPTOR), _none),
    Field("annotations", _STRING_MAP, _none, True),
    Field("subject", _pointer(DESCRIPTOR), _none, True),
    _str_field("artifactType"),
])


def _is_empty(field: Field, value: Any) -> bool:
    """Report whether Go's `omitempty` drops this value (struct values are never empty)."""
    if value is None or value is False:
        return True
    if getattr(field.decode, "fields", None) is not None:
        return False
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    if isinstance(value, int):
        return value == 0
    return False


def _to_go_value(decoder: Decoder, value: Any) -> Any:
    """Turn a decoded struct into the ordered plain value Go would encode."""
    fields: list[Field] | None = getattr(decoder, "fields", None)
    if fields is None or value is None:
        return value
    out: dict[str, Any] = {}
    for field in fields:
        item = value[field.name]
        if field.omitempty and _is_empty(field, item):
            continue
        out[field.name] = _encode_field(field.decode, item)
    return out


def _encode_field(decoder: Decoder, item: Any) -> Any:
    if item is None:
        return None
    if getattr(decoder, "fields", None) is not None:
        return _to_go_value(decoder, item)
    if isinstance(item, list):
        element: Decoder = decoder.element  # type: ignore[attr-defined]
        return [_encode_field(element, entry) for entry in item]
    if isinstance(item, dict):
        return gojson.sorted_map(item)
    return item


def _load(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise BaseImageFormatError(what, f"not JSON: {exc}") from exc


# --- the rewrite ------------------------------------------------------------------------


def normalised_config(config: bytes) -> bytes:
    """Return the config bytes kaniko hashes: zero `created`, no labels, Go field order."""
    decoded = CONFIG_FILE(_load(config, "config"), "config")
    decoded["created"] = ZERO_TIME
    decoded["config"]["Labels"] = {}
    return gojson.marshal(_to_go_value(CONFIG_FILE, decoded))


def normalised_manifest(
    manifest: bytes, config: bytes, *, propagate_annotations: bool = False
) -> bytes:
    """Return the manifest bytes whose digest is kaniko's seed for this base image.

    `propagate_annotations` is the inverse of `FF_KANIKO_NO_PROPAGATE_ANNOTATIONS`:
    when true, annotation keys are kept with empty values.
    """
    loaded = _load(manifest, "manifest")
    if isinstance(loaded, dict) and ("manifests" in loaded or loaded.get("mediaType") in _INDEX_TYPES):
        raise BaseImageFormatError(
            "manifest", "this is an image index; resolve the platform manifest first"
        )
    decoded = MANIFEST(loaded, "manifest")
    new_config = normalised_config(config)

    decoded["config"]["digest"] = "sha256:" + hashlib.sha256(new_config).hexdigest()
    decoded["config"]["size"] = len(new_config)
    if decoded["config"]["data"] is not None:
        decoded["config"]["data"] = base64.b64encode(new_config).decode("ascii")
    annotations = decoded["annotations"]
    if propagate_annotations and annotations:
        decoded["annotations"] = {key: "" for key in annotations}
    else:
        decoded["annotations"] = None
    return gojson.marshal(_to_go_value(MANIFEST, decoded))


def base_seed(manifest: bytes, config: bytes, *, propagate_annotations: bool = False) -> str:
    """Return kaniko's seed (`sha256:<hex>`) for a remote base image's manifest and config."""
    rewritten = normalised_manifest(manifest, config, propagate_annotations=propagate_annotations)
    return "sha256:" + hashlib.sha256(rewritten).hexdigest()


def scratch_images(*, oci: bool = False) -> tuple[bytes, bytes]:
    """Return the manifest and config of go-containerregistry's `empty.Image` as kaniko seeds it.

    NOTE: derived from go-containerregistry's `empty.Image` and `mutate` code as
    vendored by kaniko at commit 6bcc934 (a config with only `rootfs.type` =
    `layers`, no layers, docker media types unless `FF_KANIKO_OCI_SCRATCH_BASE`),
    not observed from a kaniko run.
    """
    config = gojson.marshal({
        "architecture": "",
        "created": ZERO_TIME,
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": None},
        "config": {},
    })
    manifest = gojson.marshal({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
            "size": len(config),
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
        },
        "layers": [],
    })
    return manifest, config


@functools.cache
def scratch_seed(*, oci: bool = False) -> str:
    """Return the seed of `FROM scratch` (`oci` = `FF_KANIKO_OCI_SCRATCH_BASE`)."""
    manifest, _ = scratch_images(oci=oci)
    return "sha256:" + hashlib.sha256(manifest).hexdigest()
