"""Files that `COPY --from` reads: saved stage files and unpacked external images.

kaniko hashes them under virtual names: `/kaniko/deps/<index>` for a stage and
`/kaniko/deps/<reference>` for an image; `stage_files` gives the planner both
the real directory and that name. An external image is downloaded and unpacked
once, before the first stage that copies from it is planned.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from cachelab.build.errors import BuildError, InstructionFailed
from cachelab.build.stage_image import ImageLayer
from cachelab.plan.stages import PlanStage

if TYPE_CHECKING:
    from cachelab.build.stage_runner import BuildSession

logger = logging.getLogger(__name__)

DEPS_PREFIX = "/kaniko/deps"


class ExternalImages:
    """Unpacks `COPY --from=<image>` sources and locates every COPY --from source."""

    def __init__(self, session: BuildSession) -> None:
        self.session = session

    def prepare(self, stage: PlanStage) -> None:
        """Unpack the external images the stage copies from, unless already done."""
        for command in stage.commands:
            reference = command.source_image
            if reference is None or reference in self.session.external_dirs:
                continue
            target = self.session.workspace.base / "images" / str(len(self.session.external_dirs))
            target.mkdir(parents=True)
            instruction = command.instruction
            try:
                self._unpack(reference, target)
            except BuildError as error:
                error.locate(instruction.start_line, instruction.text)
                raise
            except OSError as error:
                raise InstructionFailed(
                    f"unpacking image {reference} for COPY --from failed: {error}",
                    line=instruction.start_line, instruction=instruction.text,
                ) from error
            self.session.external_dirs[reference] = target
            logger.info("unpacked %s for COPY --from into %s", reference, target)

    def _unpack(self, reference: str, target: Path) -> None:
        base = self.session.images.base(reference, platform=self.session.platform)
        for layer in base.image.layers():
            self.session.mover.unpack(
                ImageLayer(layer.digest, layer.diff_id, layer.size, layer.media_type, layer.opener,
                           origin="copy-from-image", image=reference),
                target,
            )

    def stage_files(self, source: int | str) -> tuple[str, str] | None:
        """Return (real directory, kaniko's name) of a COPY --from source, or None when not available."""
        if isinstance(source, int):
            deps = self.session.workspace.deps_dir(source)
            if source not in self.session.stage_images or not deps.is_dir():
                return None
            return str(deps), f"{DEPS_PREFIX}/{source}"
        directory: Path | None = self.session.external_dirs.get(source)
        if directory is None:
            return None
        return str(directory), f"{DEPS_PREFIX}/{source}"
