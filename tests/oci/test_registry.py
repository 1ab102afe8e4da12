"""Registry client and image sources against a real docker-registry on 127.0.0.1."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cachelab.oci import mediatypes
from cachelab.oci._files import sha256_digest
from cachelab.oci.auth import Credentials
from cachelab.oci.compression import sniff
from cachelab.oci.errors import (
    BlobNotFound,
    DigestMismatch,
    ManifestNotFound,
    RegistryUnavailable,
    Unauthorized,
)
from cachelab.oci.extract import extract_layer
from cachelab.oci.image import Blob, ImageResolver, RegistryImageSource
from cachelab.oci.importer import import_rootfs
from cachelab.oci.manifest import Descriptor, Platform, build_config, build_index, build_manifest
from cachelab.oci.reference import parse_registry_reference
from cachelab.oci.registry import RegistryClient
from tests.fixtures.images import BusyboxImage
from tests.fixtures.registry import RegistryServer

pytestmark = pytest.mark.registry


def empty_image() -> tuple[bytes, str, list[Blob]]:
    """Return a zero-layer OCI image: manifest, media type and its config blob."""
    config = build_config(diff_ids=[], created=datetime(2024, 1, 1, tzinfo=UTC), history=[])
    manifest, media_type = build_manifest(config, [])
    return manifest, media_type, [Blob.from_bytes(config, mediatypes.OCI_CONFIG)]


def small_rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hello").write_text("hello from cachelab\n")
    return root


@pytest.mark.parametrize(
    ("compression", "docker", "manifest_type", "layer_type"),
    [
        ("gzip", False, mediatypes.OCI_MANIFEST, mediatypes.OCI_LAYER_GZIP),
        ("zstd", False, mediatypes.OCI_MANIFEST, mediatypes.OCI_LAYER_ZSTD),
        ("gzip", True, mediatypes.DOCKER_MANIFEST, mediatypes.DOCKER_LAYER_GZIP),
    ],
)
def test_push_pull_round_trip(registry: RegistryServer, tmp_path: Path, compression: str, docker: bool,
                              manifest_type: str, layer_type: str) -> None:
    reference = f"{registry.address}/roundtrip/{compression}-{int(docker)}:v1"
    pushed = import_rootfs(small_rootfs(tmp_path), reference, compression=compression, docker=docker)

    resolver = ImageResolver()
    image = resolver.image(reference)

    assert image.manifest_digest == pushed.manifest_digest
    assert image.media_type == manifest_type
    assert image.manifest_json["config"]["mediaType"] == mediatypes.config_media_type_for(manifest_type)
    [layer] = image.layers()
    assert layer.media_type == layer_type
    assert layer.diff_id == pushed.layer.diff_id
    with layer.open() as stream:
        head = stream.read(4)
    assert sniff(head) == compression
    with layer.open() as stream:
        extract_layer(stream, tmp_path / "out", layer_digest=layer.digest)
    assert (tmp_path / "out/etc/hello").read_text() == "hello from cachelab\n"
    resolver.close()


def test_busybox_image_in_registry_and_layout(busybox_image: BusyboxImage, tmp_path: Path) -> None:
    resolver = ImageResolver()
    from_registry = resolver.resolve(busybox_image.registry_ref)
    from_layout = resolver.resolve(busybox_image.layout_ref)

    assert from_registry.manifest_digest == busybox_image.manifest_digest
    assert from_layout.manifest == from_registry.manifest
    assert from_layout.config == from_registry.config
    config = json.loads(from_registry.config)
    assert config["config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert config["config"]["Cmd"] == ["sh"]
    resolver.close()


@pytest.mark.parametrize("docker", [False, True], ids=["oci-index", "docker-manifest-list"])
def test_index_platform_selection(registry: RegistryServer, docker: bool) -> None:
    client = RegistryClient(registry.address)
    source = RegistryImageSource(client, f"multi/arch-{int(docker)}")
    created = datetime(2024, 1, 1, tzinfo=UTC)
    descriptors = []
    for platform in (Platform("linux", "amd64"), Platform("linux", "arm64", "v8")):
        config = build_config(diff_ids=[], created=created, history=[], target=platform)
        manifest, media_type = build_manifest(config, [], docker=docker)
        config_type = mediatypes.config_media_type_for(media_type)
        source.write_image(manifest, media_type, [Blob.from_bytes(config, config_type)], tag=None)
        descriptors.append(Descriptor(media_type, sha256_digest(manifest), len(manifest),
                                      platform={"os": platform.os, "architecture": platform.architecture,
                                                **({"variant": platform.variant} if platform.variant else {})}))
    index, index_type = build_index(descriptors, docker=docker)
    source.write_image(index, index_type, [], tag="latest")
    assert client.get_manifest(parse_registry_reference(f"{registry.address}/{source.repository}")).media_type == index_type

    arm = source.resolve("latest", platform="linux/arm64")
    amd = source.resolve("latest", platform="linux/amd64")

    assert arm.manifest_digest == descriptors[1].digest
    assert json.loads(arm.config)["architecture"] == "arm64"
    assert amd.manifest_digest == descriptors[0].digest
    with pytest.raises(ManifestNotFound) as caught:
        source.resolve("latest", platform="linux/s390x")
    assert "linux/s390x" in str(caught.value)
    assert "linux/arm64/v8" in str(caught.value)
    client.close()


def test_cross_repository_mount(registry: RegistryServer) -> None:
    client = RegistryClient(registry.address)
    data = os.urandom(10_000)
    digest = sha256_digest(data)
    assert client.upload_blob("mount/source", lambda: io.BytesIO(data), digest, len(data)) == "uploaded"

    outcome = client.upload_blob("mount/target", lambda: io.BytesIO(data), digest, len(data),
                                 mount_from="mount/source")

    assert outcome == "mounted"
    assert client.head_blob("mount/target", digest) == len(data)
    assert client.stats.snapshot().get("blob PUT") is not None
    assert client.stats.snapshot()["blob PUT"].requests == 1
    client.close()


def test_chunked_upload(registry: RegistryServer) -> None:
    client = RegistryClient(registry.address, chunk_size=4096)
    data = os.urandom(20_000)
    digest = sha256_digest(data)

    client.upload_blob("chunked/blob", lambda: io.BytesIO(data), digest, len(data))

    assert client.stats.snapshot()["blob PATCH"].requests == 5
    with client.open_blob("chunked/blob", digest) as stream:
        assert stream.read() == data
    client.close()


def test_tags_and_delete(registry: RegistryServer) -> None:
    client = RegistryClient(registry.address)
    source = RegistryImageSource(client, "tags/repo")
    manifest, media_type, blobs = empty_image()
    for tag in ("a", "b"):
        source.write_image(manifest, media_type, blobs, tag=tag)
    assert sorted(client.list_tags("tags/repo")) == ["a", "b"]

    client.delete_manifest(parse_registry_reference(f"{registry.address}/tags/repo:a"))

    # Deleting by digest removes every tag of that manifest.
    assert client.list_tags("tags/repo") == []
    client.close()


def test_manifest_404_names_reference_and_status(registry: RegistryServer) -> None:
    client = RegistryClient(registry.address)
    reference = parse_registry_reference(f"{registry.address}/nothing/here:v9")
    with pytest.raises(ManifestNotFound) as caught:
        client.get_manifest(reference)
    error = caught.value
    assert error.status == 404
    assert str(reference) in str(error)
    assert "404" in str(error)
    assert error.codes in (("NAME_UNKNOWN",), ("MANIFEST_UNKNOWN",))
    assert not error.retryable
    client.close()


def test_blob_404(registry: RegistryServer) -> None:
    client = RegistryClient(registry.address)
    digest = sha256_digest(b"never pushed")
    assert client.head_blob("nothing/here", digest) is None
    with pytest.raises(BlobNotFound) as caught:
        client.open_blob("nothing/here", digest)
    assert digest in str(caught.value)
    assert caught.value.status == 404
    client.close()


def test_manifest_digest_verified(registry: RegistryServer, busybox_image: BusyboxImage) -> None:
    client = RegistryClient(registry.address)
    reference = parse_registry_reference(busybox_image.registry_ref)
    pinned = reference.with_identifier(digest=busybox_image.manifest_digest)
    assert client.get_manifest(pinned).digest == busybox_image.manifest_digest
    client.close()


def test_registry_down_names_reference(down_registry_address: str) -> None:
    delays: list[float] = []
    client = RegistryClient(down_registry_address, sleep=delays.append, max_retries=2)
    reference = parse_registry_reference(f"{down_registry_address}/app:v1")
    with pytest.raises(RegistryUnavailable) as caught:
        client.get_manifest(reference)
    message = str(caught.value)
    assert str(reference) in message
    assert "unreachable" in message
    assert caught.value.hint and "Start the registry" in caught.value.hint
    assert delays == [0.5, 1.0]
    client.close()


def test_basic_auth_with_credentials(auth_registry: RegistryServer, tmp_path: Path) -> None:
    credentials = Credentials(auth_registry.username or "", auth_registry.password or "")
    client = RegistryClient(auth_registry.address, credentials=credentials)
    source = RegistryImageSource(client, "private/app")
    manifest, media_type, blobs = empty_image()
    source.write_image(manifest, media_type, blobs, tag="v1")

    resolved = source.resolve("v1")

    assert resolved.manifest == manifest
    client.close()


def test_basic_auth_from_docker_config(auth_registry: RegistryServer, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    token = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {auth_registry.address: {"auth": token}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    client = RegistryClient(auth_registry.address)
    data = b"authorized blob"

    outcome = client.upload_blob("private/config", lambda: io.BytesIO(data), sha256_digest(data), len(data))

    assert outcome == "uploaded"
    assert client.head_blob("private/config", sha256_digest(data)) == len(data)
    client.close()


def test_basic_auth_without_credentials_rejected(auth_registry: RegistryServer, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    client = RegistryClient(auth_registry.address)
    reference = parse_registry_reference(f"{auth_registry.address}/private/app:v1")
    with pytest.raises(Unauthorized) as caught:
        client.get_manifest(reference)
    assert caught.value.status == 401
    assert str(reference) in str(caught.value)
    assert "config.json" in (caught.value.hint or "")
    client.close()


def test_wrong_password_rejected(auth_registry: RegistryServer) -> None:
    client = RegistryClient(auth_registry.address, credentials=Credentials(auth_registry.username or "", "wrong"))
    with pytest.raises(Unauthorized):
        client.list_tags("private/app")
    client.close()


def test_corrupted_blob_in_registry_storage(registry: RegistryServer) -> None:
    client = RegistryClient(registry.address)
    data = os.urandom(5000)
    digest = sha256_digest(data)
    client.upload_blob("corrupt/blob", lambda: io.BytesIO(data), digest, len(data))
    hex_digest = digest.removeprefix("sha256:")
    [stored] = list(registry.storage.rglob(f"blobs/sha256/{hex_digest[:2]}/{hex_digest}/data"))
    stored.write_bytes(b"X" + data[1:])

    with pytest.raises(DigestMismatch) as caught:
        with client.open_blob("corrupt/blob", digest) as stream:
            stream.read()
    assert caught.value.expected == digest
    client.close()


def test_bearer_token_auth(token_registry, tmp_path: Path) -> None:
    server = token_registry.server
    credentials = Credentials(server.username or "", server.password or "")
    client = RegistryClient(server.address, credentials=credentials)
    source = RegistryImageSource(client, "tokens/app")
    manifest, media_type, blobs = empty_image()

    source.write_image(manifest, media_type, blobs, tag="v1")
    resolved = source.resolve("v1")

    assert resolved.manifest == manifest
    scopes = [scope for query in token_registry.issuer.requests for scope in query.get("scope", [])]
    assert "repository:tokens/app:pull,push" in scopes
    assert "repository:tokens/app:pull" in scopes
    # One token per scope: the second resolve reuses the cached pull token.
    count = len(token_registry.issuer.requests)
    source.resolve("v1")
    assert len(token_registry.issuer.requests) == count
    client.close()


def test_bearer_token_wrong_password(token_registry) -> None:
    server = token_registry.server
    client = RegistryClient(server.address, credentials=Credentials(server.username or "", "wrong"))
    reference = parse_registry_reference(f"{server.address}/tokens/app:v1")
    with pytest.raises(Unauthorized) as caught:
        client.get_manifest(reference)
    assert caught.value.status == 401
    assert "token" in str(caught.value)
    client.close()
