"""Media types of OCI and Docker schema 2 manifests, indexes, configs and layers."""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
# The Accept header of a manifest request: every kind this package can read.
MANIFEST_ACCEPT = ", ".join(MANIFESTS + INDEXES)


def is_index(media_type: str) -> bool:
    return media_type in INDEXES


def is_manifest(media_type: str) -> bool:
    return media_type in MANIFESTS


def is_docker(media_type: str) -> bool:
    return media_type.startswith("application/vnd.docker.")


def layer_media_type(compression: str, *, docker: bool = False) -> str:
    """Return the layer media type for "gzip", "zstd" or "none" in the OCI or Docker family.

    Docker schema 2 has no zstd layer type, so zstd always yields the OCI type.
    """
    if compression == "gzip":
        return DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP
    if compression == "zstd":
        return OCI_LAYER_ZSTD
    if compression == "none":
        return DOCKER_LAYER if docker else OCI_LAYER
    raise ValueError(f"unknown compression {compression!r}; expected gzip, zstd or none")


def config_media_type_for(manifest_media_type: str) -> str:
    return DOCKER_CONFIG if is_docker(manifest_media_type) else OCI_CONFIG
