"""The seed digest of a remote base image, byte-identical to kaniko's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cachelab.keys.errors import BaseImageFormatError
from cachelab.keys.gojson import encode_string, marshal
from cachelab.keys.seed import (
    base_seed,
    go_time,
    normalised_config,
    normalised_manifest,
    scratch_images,
    scratch_seed,
)

DATA = Path(__file__).parent / "data"
# The busybox base image every recorded kaniko run used: manifest and config as
# the registry served them, and the seed kaniko v1.28.3 (6bcc934) logged for it.
BUSYBOX_SEED = "sha256:abd548d2d0296f1aaf7df212f4abc6129eb0633e9b390f98ba69d69e09a51f37"
NORMALISED_CONFIG_DIGEST = "sha256:f8576a2012d2b9daf24747e630f9164a8ef975874b7d67d71083cd7c75d54d6e"


@pytest.fixture()
def busybox() -> tuple[bytes, bytes]:
    return (DATA / "busybox-manifest.json").read_bytes(), (DATA / "busybox-config.json").read_bytes()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_busybox_seed_matches_kaniko(busybox):
    manifest, config = busybox

    assert sha(manifest) == "sha256:3fabd8c617177ad98cd0cdd02e2e734dbb422b4b5f2071ab57b399cfe65d82c0"
    assert base_seed(manifest, config) == BUSYBOX_SEED


def test_busybox_normalised_config(busybox):
    _, config = busybox

    normalised = normalised_config(config)

    assert len(normalised) == 564
    assert sha(normalised) == NORMALISED_CONFIG_DIGEST
    assert normalised.startswith(b'{"architecture":"amd64","created":"0001-01-01T00:00:00Z","history":[')
    assert normalised.endswith(b'"config":{"Cmd":["sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}}')


def test_busybox_normalised_manifest(busybox):
    manifest, config = busybox

    rewritten = json.loads(normalised_manifest(manifest, config))

    assert list(rewritten) == ["schemaVersion", "mediaType", "config", "layers"]
    assert list(rewritten["config"]) == ["mediaType", "size", "digest"]
    assert rewritten["config"]["digest"] == NORMALISED_CONFIG_DIGEST


def test_seed_ignores_created_and_labels(busybox):
    manifest, config = busybox
    changed = json.loads(config)
    changed["created"] = "2030-01-01T00:00:00Z"
    changed["config"]["Labels"] = {"org.example.version": "2"}

    assert base_seed(manifest, json.dumps(changed).encode()) == BUSYBOX_SEED


def test_seed_ignores_unknown_fields_and_key_order(busybox):
    manifest, config = busybox
    changed = json.loads(config)
    changed["container_config"] = {"Hostname": "x"}
    reordered = dict(reversed(list(changed.items())))

    assert base_seed(manifest, json.dumps(reordered, indent=2).encode()) == BUSYBOX_SEED


def test_seed_changes_with_env(busybox):
    manifest, config = busybox
    changed = json.loads(config)
    changed["config"]["Env"].append("A=1")

    assert base_seed(manifest, json.dumps(changed).encode()) != BUSYBOX_SEED


def test_annotations_dropped_by_default_and_blanked_otherwise(busybox):
    manifest, config = busybox
    changed = json.loads(manifest)
    changed["annotations"] = {"b": "value", "a": "other"}
    raw = json.dumps(changed).encode()

    kept = normalised_manifest(raw, config, propagate_annotations=True)

    assert base_seed(raw, config) == BUSYBOX_SEED
    assert kept.endswith(b'"annotations":{"a":"","b":""}}')
    assert base_seed(raw, config, propagate_annotations=True) != BUSYBOX_SEED


def test_history_without_created_gets_zero_time(busybox):
    _, config = busybox
    changed = json.loads(config)
    del changed["history"][1]["created"]

    normalised = normalised_config(json.dumps(changed).encode())

    assert b'{"created":"0001-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop) CMD [\\"sh\\"]"}' in normalised


def test_index_rejected(busybox):
    _, config = busybox
    index = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'

    with pytest.raises(BaseImageFormatError, match="index"):
        base_seed(index, config)


def test_bad_digest_rejected(busybox):
    manifest, config = busybox
    changed = json.loads(manifest)
    changed["layers"][0]["digest"] = "sha256:xyz"

    with pytest.raises(BaseImageFormatError, match="digest"):
        base_seed(json.dumps(changed).encode(), config)


def test_wrong_type_rejected(busybox):
    manifest, config = busybox
    changed = json.loads(config)
    changed["config"]["Env"] = "PATH=/bin"

    with pytest.raises(BaseImageFormatError, match="Env"):
        base_seed(manifest, json.dumps(changed).encode())


def test_config_maps_sorted_and_volumes_encoded():
    config = json.dumps({
        "architecture": "arm64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {
            "ExposedPorts": {"8080/tcp": {}, "443/tcp": {}},
            "Volumes": {"/data": {}},
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 30000000000},
            "User": "app",
        },
        "variant": "v8",
    }).encode()

    normalised = normalised_config(config)

    assert normalised == (
        b'{"architecture":"arm64","created":"0001-01-01T00:00:00Z","os":"linux",'
        b'"rootfs":{"type":"layers","diff_ids":[]},'
        b'"config":{"Healthcheck":{"Test":["CMD","true"],"Interval":30000000000},'
        b'"User":"app","Volumes":{"/data":{}},"ExposedPorts":{"443/tcp":{},"8080/tcp":{}}},'
        b'"variant":"v8"}'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-04T19:52:56.727924927Z", "2026-12-04T19:52:56.727924927Z"),
        ("2026-12-04T19:52:56.720000000Z", "2026-12-04T19:52:56.72Z"),
        ("2026-12-04T19:52:56.000Z", "2026-12-04T19:52:56Z"),
        ("2026-12-04T19:52:56+00:00", "2026-12-04T19:52:56Z"),
        ("2026-12-04T19:52:56.5+02:00", "2026-12-04T19:52:56.5+02:00"),
    ],
)
def test_go_time(text, expected):
    assert go_time(text) == expected


def test_go_time_invalid():
    with pytest.raises(BaseImageFormatError):
        go_time("2026-13-04T19:52:56Z")


def test_go_string_escaping():
    assert encode_string('a<b>&"\\') == '"a\\u003cb\\u003e\\u0026\\"\\\\"'
    assert encode_string("\b\f\n\r\t\x01\x7f") == '"\\b\\f\\n\\r\\t\\u0001\x7f"'
    assert encode_string("\u2028\u00e9") == '"\\u2028\u00e9"'
    assert marshal({"k": [1, True, None, "v"]}) == b'{"k":[1,true,null,"v"]}'


def test_scratch_images_docker_and_oci():
    manifest, config = scratch_images()
    oci_manifest, oci_config = scratch_images(oci=True)

    assert config == oci_config
    assert config == b'{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":null},"config":{}}'
    assert b'"layers":[]' in manifest
    assert b"application/vnd.docker.distribution.manifest.v2+json" in manifest
    assert b"application/vnd.oci.image.manifest.v1+json" in oci_manifest
    assert scratch_seed() == sha(manifest)
    assert scratch_seed(oci=True) != scratch_seed()


def test_scratch_seed_is_its_own_fixed_point():
    # Rewriting the empty image the kaniko way gives the same bytes back.
    manifest, config = scratch_images()

    assert normalised_config(config) == config
    assert base_seed(manifest, config) == scratch_seed()


def test_shared_normalised_files_match(shared: Path, busybox):
    manifest, config = busybox
    base = shared / "cases" / "base-image"

    assert normalised_config(config) == (base / "kaniko-normalised-config.json").read_bytes().rstrip(b"\n")
    assert normalised_manifest(manifest, config) == (
        base / "kaniko-normalised-manifest.json"
    ).read_bytes().rstrip(b"\n")
