"""Synthetic stand-ins for base images that cannot be resolved offline.

A stand-in answers every reference with the same kind of image: a seed equal to
the SHA-256 of the reference text, a manifest digest `sha256:` + that seed, and
a config whose only setting is Docker's default `PATH`. Keys derived from it are
stable across builds and differ per reference, which is all a warm-rebuild
study needs: it never compares them with keys of the real images.
"""

from __future__ import annotations

import hashlib
import json

from cachelab.plan.interfaces import BaseImage

# The Env Docker puts in the config of most official images.
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


def standin_digest(reference: str) -> str:
    """Return the hex SHA-256 of `reference`, the stand-in's seed."""
    return hashlib.sha256(reference.encode("utf-8")).hexdigest()


class StandInImageSource:
    """A BaseImageSource that resolves any reference to a synthetic image (see module doc)."""

    def __init__(self) -> None:
        self._images: dict[str, BaseImage] = {}
        self._config = json.dumps({"config": {"Env": [DEFAULT_PATH]}}).encode()

    def resolve(self, reference: str, *, platform: str | None = None) -> BaseImage:
        image = self._images.get(reference)
        if image is None:
            seed = standin_digest(reference)
            manifest = json.dumps({"mediaType": _MANIFEST_MEDIA_TYPE, "standin": reference}).encode()
            image = BaseImage(
                reference=reference, manifest=manifest, manifest_digest=f"sha256:{seed}",
                config=self._config, media_type=_MANIFEST_MEDIA_TYPE, seed=seed,
            )
            self._images[reference] = image
        return image
