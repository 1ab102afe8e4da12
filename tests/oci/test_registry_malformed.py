"""Manifests, indexes and configs that a registry serves with status 200 but broken content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cachelab.oci import mediatypes
from cachelab.oci.cache import RegistryLayerCache
from cachelab.oci.copy import copy_image
from cachelab.oci.errors import InvalidManifest, OCIError, RegistryError
from cachelab.oci.image import ImageResolver
from cachelab.oci.registry import RegistryClient
from tests.oci.scripted_registry import MANIFEST_TYPE, Received, Reply, ScriptedRegistry

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest_for(config: bytes) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [],
    }).encode()


class Content:
    """What the scripted registry serves: one manifest under every tag, and blobs by digest."""

    def __init__(self) -> None:
        self.manifest = manifest_for(CONFIG)
        self.manifest_type = MANIFEST_TYPE
        self.blobs = {digest_of(CONFIG): CONFIG}

    def reply(self, request: Received) -> Reply:
        path = request.path.split("?")[0]
        if "/manifests/" in path:
            return Reply(200, self.manifest, {"Content-Type": self.manifest_type})
        if "/blobs/" in path:
            blob = self.blobs.get(path.rsplit("/", 1)[1])
            return Reply(200, blob) if blob is not None else Reply(404)
        return Reply(200)


@pytest.fixture
def content() -> Content:
    return Content()


@pytest.fixture
def server(content: Content) -> Iterator[ScriptedRegistry]:
    scripted = ScriptedRegistry(content.reply)
    yield scripted
    scripted.close()


@pytest.fixture
def resolver() -> Iterator[ImageResolver]:
    images = ImageResolver()
    yield images
    images.close()


MALFORMED_MANIFESTS = [
    ("not-json", b"not json!", "not valid JSON"),
    ("empty-object", b"{}", "'config' is missing"),
    ("array", b"[1,2]", "is an array, not a JSON object"),
    ("config-string", b'{"config":"sha256:abc"}', "'config' is a string, not a descriptor object"),
    ("config-without-digest", b'{"config":{"size":2}}', "config.digest None is not a digest"),
    ("negative-size", b'{"config":{"digest":"sha256:ab","size":-1}}', "config.size -1 is not a non-negative"),
    ("layers-object",
     b'{"config":{"digest":"sha256:ab","size":2},"layers":{}}', "'layers' is an object, not an array"),
    ("layer-without-size",
     b'{"config":{"digest":"sha256:ab","size":2},"layers":[{"digest":"sha256:cd"}]}',
     "layers[0].size None is not a non-negative integer"),
]


@pytest.mark.parametrize(("body", "reason"), [case[1:] for case in MALFORMED_MANIFESTS],
                         ids=[case[0] for case in MALFORMED_MANIFESTS])
def test_malformed_manifest_raises_invalid_manifest(
    server: ScriptedRegistry, content: Content, resolver: ImageResolver, body: bytes, reason: str,
) -> None:
    content.manifest = body
    reference = f"{server.address}/app:v1"

    with pytest.raises(InvalidManifest) as raised:
        resolver.resolve(reference)

    message = str(raised.value)
    assert message.startswith(f"invalid manifest of {reference} ({digest_of(body)}): ")
    assert reason in message
    assert raised.value.digest == digest_of(body)
    assert raised.value.hint


def test_malformed_index_raises_invalid_manifest(
    server: ScriptedRegistry, content: Content, resolver: ImageResolver,
) -> None:
    content.manifest = b'{"schemaVersion":2,"manifests":[{"digest":"sha256:ab","size":1,"platform":"linux"}]}'
    content.manifest_type = mediatypes.OCI_INDEX

    with pytest.raises(InvalidManifest) as raised:
        resolver.resolve(f"{server.address}/app:v1")

    assert str(raised.value).startswith(f"invalid index of {server.address}/app:v1 (sha256:")
    assert "manifests[0].platform is not an object" in str(raised.value)


@pytest.mark.parametrize(("config", "reason"), [
    (b"[]", "the document is an array"),
    (b"\xff\xfe", "not valid JSON"),
    (b'{"rootfs":{"diff_ids":"sha256:ab"}}', "'rootfs.diff_ids' is not an array of strings"),
    (b'{"config":[]}', "'config' is an array, not an object"),
])
def test_malformed_config_raises_invalid_manifest(
    server: ScriptedRegistry, content: Content, resolver: ImageResolver, config: bytes, reason: str,
) -> None:
    content.manifest = manifest_for(config)
    content.blobs = {digest_of(config): config}

    with pytest.raises(InvalidManifest) as raised:
        resolver.resolve(f"{server.address}/app:v1")

    assert str(raised.value).startswith(f"invalid config of {server.address}/app:v1 ({digest_of(config)}): ")
    assert reason in str(raised.value)


def test_malformed_cache_entry_raises_oci_error(server: ScriptedRegistry, content: Content) -> None:
    """A build counts an OCIError from a lookup as a failed lookup, so the lookup must raise no other kind."""
    content.manifest = b"not json!"
    key = "ab" * 32

    with RegistryClient(server.address, anonymous=True) as client, pytest.raises(OCIError) as raised:
        RegistryLayerCache(client, "cache").lookup(key)

    assert isinstance(raised.value, InvalidManifest)
    assert f"{server.address}/cache:{key}" in str(raised.value)


@pytest.mark.parametrize(("body", "detail"), [
    (b"not json!", "the response body is not a JSON object"),
    (b'{"name":"app","tags":"v1"}', "'tags' in the response is not an array of strings"),
])
def test_malformed_tag_list_raises_registry_error(body: bytes, detail: str) -> None:
    server = ScriptedRegistry(lambda request: Reply(200, body, {"Content-Type": "application/json"}))
    try:
        with RegistryClient(server.address, anonymous=True) as client, pytest.raises(RegistryError) as raised:
            client.list_tags("app")
    finally:
        server.close()

    assert str(raised.value).startswith(f"tags GET {server.address}/app failed with HTTP 200")
    assert detail in str(raised.value)


def test_malformed_token_response_raises_registry_error() -> None:
    def reply(request: Received) -> Reply:
        if request.path.startswith("/token"):
            return Reply(200, b"<html>login</html>")
        return Reply(401, headers={"WWW-Authenticate": f'Bearer realm="http://{address}/token",service="test"'})

    server = ScriptedRegistry(reply)
    address = server.address
    try:
        with RegistryClient(server.address, anonymous=True) as client, pytest.raises(RegistryError) as raised:
            client.list_tags("app")
    finally:
        server.close()

    assert str(raised.value).startswith(f"requesting a token {server.address} failed with HTTP 200")
    assert "the response body is not a JSON object: b'<html>login</html>'" in str(raised.value)


@pytest.mark.parametrize(("body", "media_type", "reason"), [
    (b"{}", MANIFEST_TYPE, "invalid manifest of"),
    (b'{"manifests":{}}', mediatypes.OCI_INDEX, "invalid index of"),
])
def test_copy_of_malformed_manifest_raises(
    server: ScriptedRegistry, content: Content, tmp_path: Path, body: bytes, media_type: str, reason: str,
) -> None:
    content.manifest = body
    content.manifest_type = media_type
    source = f"{server.address}/app:v1"

    with pytest.raises(InvalidManifest) as raised:
        copy_image(source, f"oci:{tmp_path}/store:v1", all_platforms=True)

    assert str(raised.value).startswith(f"{reason} {source} ({digest_of(body)}): ")
    assert not (tmp_path / "store" / "index.json").exists()
