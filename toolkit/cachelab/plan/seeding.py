"""Base images as the planner uses them: seeds, config Env, ONBUILD triggers, digests.

A stage on a remote base or on `scratch` starts its key chain with one part, the
digest of kaniko's rewritten copy of the base (its seed). Only the manifest and the
config are read, never a layer, so planning costs no download.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from cachelab.keys.flags import KanikoOptions
from cachelab.keys.seed import base_seed, scratch_seed
from cachelab.plan.errors import BaseImageError
from cachelab.plan.interfaces import BaseImage, BaseImageSource
from cachelab.plan.stages import PlanStage

logger = logging.getLogger(__name__)


class BaseResolver:
    """Resolves each base reference once and derives what keys need from it."""

    def __init__(self, images: BaseImageSource, *, options: KanikoOptions, platform: str | None) -> None:
        self.images = images
        self.options = options
        self.platform = platform
        self._resolved: dict[str, BaseImage] = {}
        self._configs: dict[str, dict[str, Any]] = {}

    def resolve(self, reference: str) -> BaseImage:
        image = self._resolved.get(reference)
        if image is None:
            image = self.images.resolve(reference, platform=self.platform)
            self._resolved[reference] = image
            logger.debug("resolved base %s: manifest %s", reference, image.manifest_digest)
        return image

    def seed(self, stage: PlanStage) -> str:
        """Return the first key part of a stage on a remote base or scratch."""
        if stage.base_kind == "scratch":
            return scratch_seed(oci=self.options.oci_scratch_base)
        if stage.base_ref is None:
            raise BaseImageError(f"stage {stage.index} has no remote base to seed from")
        image = self.resolve(stage.base_ref)
        if image.seed is not None:
            return image.seed
        return base_seed(
            image.manifest, image.config, propagate_annotations=not self.options.no_propagate_annotations,
        )

    def config_env(self, stage: PlanStage) -> list[str] | None:
        """Return the base config's Env list, or None when it has none (scratch included)."""
        if stage.base_kind != "image" or stage.base_ref is None:
            return None
        return self.image_env(stage.base_ref)

    def image_env(self, reference: str) -> list[str] | None:
        """Return the Env list of a remote base's config, or None when it has none."""
        env = self._config(reference).get("Env")
        return list(env) if env is not None else None

    def onbuild_triggers(self, reference: str) -> list[str]:
        """Return the ONBUILD trigger expressions of a remote base's config."""
        return list(self._config(reference).get("OnBuild") or [])

    def manifest_digest(self, reference: str) -> str:
        """Return the registry digest of an image's manifest (keys `COPY --from=<image>`)."""
        return self.resolve(reference).manifest_digest

    def _config(self, reference: str) -> dict[str, Any]:
        cached = self._configs.get(reference)
        if cached is not None:
            return cached
        image = self.resolve(reference)
        try:
            document = json.loads(image.config)
        except ValueError as exc:
            raise BaseImageError(f"config of base image {reference!r} is not JSON: {exc}") from exc
        config = document.get("config") or {}
        self._configs[reference] = config
        return config
