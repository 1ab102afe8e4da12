"""Pushes to registries that respond with success statuses but did not store what was sent."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from cachelab.oci import mediatypes
from cachelab.oci.errors import RegistryError
from cachelab.oci.image import Blob, RegistryImageSource
from cachelab.oci.registry import RegistryClient
from tests.oci.scripted_registry import MANIFEST_TYPE, Received, Reply, ScriptedRegistry

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
    "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": digest_of(CONFIG), "size": len(CONFIG)},
    "layers": [],
}).encode()


@dataclass
class SmallRegistry:
    """A registry of one repository with switches that break one step of a push each."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, bytes] = field(default_factory=dict)
    manifest_put_status: int = 201
    store_manifests: bool = True
    send_content_digest: bool = True
    wrong_content_digest: bool = False
    blob_put_status: int = 201
    upload_location: bool = True
    blob_head_size: int | None = None

    def reply(self, request: Received) -> Reply:
        path, _, query = request.path.partition("?")
        if path.endswith("/blobs/uploads/") and request.method == "POST":
            headers = {"Location": "/v2/app/blobs/uploads/session"} if self.upload_location else {}
            return Reply(202, headers=headers)
        if "/blobs/uploads/" in path and request.method == "PUT":
            digest = query.partition("digest=")[2].replace("%3A", ":")
            self.blobs[digest] = request.body
            return Reply(self.blob_put_status)
        if "/blobs/" in path:
            blob = self.blobs.get(path.rsplit("/", 1)[1])
            if blob is None:
                return Reply(404)
            if request.method == "HEAD" and self.blob_head_size is not None:
                return Reply(200, headers={"Content-Length": str(self.blob_head_size)})
            return Reply(200, blob)
        if "/manifests/" in path:
            identifier = path.rsplit("/", 1)[1]
            if request.method == "PUT":
                if self.store_manifests:
                    self.manifests[identifier] = request.body
                    self.manifests[digest_of(request.body)] = request.body
                return Reply(self.manifest_put_status, headers={"Location": path})
            manifest = self.manifests.get(identifier)
            if manifest is None:
                return Reply(404)
            headers = {"Content-Type": MANIFEST_TYPE}
            if self.send_content_digest:
                headers["Docker-Content-Digest"] = "sha256:" + "0" * 64 if self.wrong_content_digest \
                    else digest_of(manifest)
            return Reply(200, manifest, headers)
        return Reply(200)


@pytest.fixture
def registry_state() -> SmallRegistry:
    return SmallRegistry()


@pytest.fixture
def server(registry_state: SmallRegistry) -> Iterator[ScriptedRegistry]:
    scripted = ScriptedRegistry(registry_state.reply)
    yield scripted
    scripted.close()


def push(server: ScriptedRegistry) -> str:
    with RegistryClient(server.address, anonymous=True, sleep=lambda _: None) as client:
        source = RegistryImageSource(client, "app")
        return source.write_image(MANIFEST, MANIFEST_TYPE, [Blob.from_bytes(CONFIG, mediatypes.OCI_CONFIG)], tag="v1")


def test_push_verifies_manifest_by_digest(server: ScriptedRegistry, registry_state: SmallRegistry) -> None:
    assert push(server) == digest_of(MANIFEST)

    assert registry_state.manifests["v1"] == MANIFEST
    assert server.methods()[-2:] == ["PUT /v2/app/manifests/v1", f"HEAD /v2/app/manifests/{digest_of(MANIFEST)}"]


def test_manifest_put_200_is_rejected(server: ScriptedRegistry, registry_state: SmallRegistry) -> None:
    registry_state.manifest_put_status = 200

    with pytest.raises(RegistryError) as raised:
        push(server)

    assert str(raised.value).startswith(f"manifest PUT {server.address}/app:v1 failed with HTTP 200")
    assert "unexpected success status (the OCI distribution API specifies HTTP 201 here)" in str(raised.value)
    assert raised.value.status == 200


def test_manifest_not_stored_is_rejected(server: ScriptedRegistry, registry_state: SmallRegistry) -> None:
    registry_state.store_manifests = False

    with pytest.raises(RegistryError) as raised:
        push(server)

    message = str(raised.value)
    assert message.startswith(f"verifying manifest PUT {server.address}/app@{digest_of(MANIFEST)} failed")
    assert "the registry accepted the manifest but does not serve it: a HEAD by digest answered 404" in message
    assert raised.value.hint is not None


def test_manifest_served_with_other_digest_is_rejected(
    server: ScriptedRegistry, registry_state: SmallRegistry,
) -> None:
    registry_state.wrong_content_digest = True

    with pytest.raises(RegistryError) as raised:
        push(server)

    assert f"a HEAD by digest returned Docker-Content-Digest sha256:{'0' * 64}" in str(raised.value)


def test_manifest_without_digest_header_is_fetched(server: ScriptedRegistry, registry_state: SmallRegistry) -> None:
    registry_state.send_content_digest = False

    assert push(server) == digest_of(MANIFEST)

    assert server.methods()[-1] == f"GET /v2/app/manifests/{digest_of(MANIFEST)}"


def test_blob_put_200_is_rejected(server: ScriptedRegistry, registry_state: SmallRegistry) -> None:
    registry_state.blob_put_status = 200

    with pytest.raises(RegistryError) as raised:
        push(server)

    assert str(raised.value).startswith(f"blob PUT {server.address}/app@{digest_of(CONFIG)} failed with HTTP 200")
    assert not any(method.startswith("PUT /v2/app/manifests/") for method in server.methods())


def test_upload_without_location_is_rejected(server: ScriptedRegistry, registry_state: SmallRegistry) -> None:
    registry_state.upload_location = False

    with pytest.raises(RegistryError) as raised:
        push(server)

    assert "upload POST" in str(raised.value)
    assert "the response has no Location header for the upload session" in str(raised.value)


def test_blob_of_other_size_is_uploaded(server: ScriptedRegistry, registry_state: SmallRegistry) -> None:
    registry_state.blobs[digest_of(CONFIG)] = b"x"
    registry_state.blob_head_size = 1

    push(server)

    assert "POST /v2/app/blobs/uploads/" in server.methods()
    assert registry_state.blobs[digest_of(CONFIG)] == CONFIG


def test_registry_answering_200_to_everything(server: ScriptedRegistry, registry_state: SmallRegistry) -> None:
    server.handler = lambda request: Reply(200)

    with pytest.raises(RegistryError) as raised:
        push(server)

    assert raised.value.status == 200
    assert not any(method.startswith("PUT /v2/app/manifests/") for method in server.methods())
