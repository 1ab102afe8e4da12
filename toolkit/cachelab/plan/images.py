"""A base-image source reading saved manifest and config files, so no registry is needed."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cachelab.plan.errors import BaseImageError
from cachelab.plan.interfaces import BaseImage

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SavedImage:
    """Paths of one image's manifest and config as the registry served them."""

    manifest: Path
    config: Path


def parse_base_option(value: str) -> tuple[str, SavedImage]:
    """Parse a `REF=MANIFEST.json,CONFIG.json` option value."""
    reference, sep, files = value.rpartition("=")
    manifest, comma, config = files.partition(",")
    if not sep or not reference or not comma or not manifest or not config:
        raise BaseImageError(f"invalid --base value {value!r}: expected REF=MANIFEST.json,CONFIG.json")
    return reference, SavedImage(manifest=Path(manifest), config=Path(config))


class FileImageSource:
    """A BaseImageSource serving images from saved files, keyed by reference."""

    def __init__(self, images: Mapping[str, SavedImage]) -> None:
        self._images = dict(images)

    def resolve(self, reference: str, *, platform: str | None = None) -> BaseImage:
        saved = self._images.get(reference)
        if saved is None:
            known = ", ".join(sorted(self._images)) or "none"
            raise BaseImageError(
                f"base image {reference!r} has no saved manifest and config (given: {known})",
            )
        manifest = _read(saved.manifest, reference)
        config = _read(saved.config, reference)
        try:
            media_type = json.loads(manifest).get("mediaType", "")
        except (ValueError, AttributeError) as exc:
            raise BaseImageError(f"manifest {saved.manifest} of {reference!r} is not a JSON object: {exc}") from exc
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        logger.debug("resolved %s to %s from %s", reference, digest, saved.manifest)
        return BaseImage(
            reference=reference, manifest=manifest, manifest_digest=digest, config=config,
            media_type=media_type,
        )


def _read(path: Path, reference: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BaseImageError(f"failed to read {path} for base image {reference!r}: {exc.strerror}") from exc
