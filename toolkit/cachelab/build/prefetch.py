"""Extracting the next stage's base image while the current stage runs.

kaniko extracts a stage's base image when the stage starts, and every stage
built on one image repeats it (three times busybox in the three-stage example).
When the next stage unpacks its base whatever its cache lookups find
(`unpacks_before_planning`), cachelab starts that work on a background thread
once the stage before has its root, and that stage's RUN overlaps it. The stage that owns the base then renames the finished directory
into place and records the usual `download` and `unpack` spans, with the same
bytes and the attribute `prefetched`. Their time is what the stage still
waited, all of it in the first `download` span.

Limits of the early start:

* only a base already resolved from the local image store or an `oci:` layout
  qualifies, because a registry base would make requests that the spans of the
  running stage would count;
* a next stage whose cache hits may spare its base is never started early, so
  a build does no unpacking that its plan would have avoided;
* the next base starts only after a stage that executes an instruction, whose
  RUN or COPY the extraction can overlap;
* a failed early extraction is dropped and the stage extracts the base itself,
  so its error is raised where it always was.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cachelab.build.images import BuildImages
from cachelab.build.layer_io import local_blob, store_file
from cachelab.build.stage_image import ImageLayer
from cachelab.events.spans import SpanClock
from cachelab.plan.decisions import StagePlan
from cachelab.plan.stages import PlanStage
from cachelab.plan.unpack import unpacks_before_planning

logger = logging.getLogger(__name__)


@dataclass
class _Extraction:
    """One base being extracted into `directory` on its own thread."""

    stage_index: int
    layers: list[ImageLayer]
    directory: Path
    blob_dir: Path
    local_layers: list[ImageLayer] = field(default_factory=list)
    file_bytes: list[int] = field(default_factory=list)
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def run(self) -> None:
        from cachelab.oci.extract import extract_layer

        try:
            for layer in self.layers:
                local = local_blob(layer, self.blob_dir / layer.digest.replace(":", "-"))
                with local.open() as blob:
                    stats = extract_layer(blob, self.directory, layer_digest=layer.digest, image=layer.image)
                self.local_layers.append(local)
                self.file_bytes.append(stats.file_bytes)
        except BaseException as error:  # handed to the build thread, which extracts the base itself
            self.error = error


class BasePrefetcher:
    """Starts and hands over early extractions of stage bases; see the module docstring."""

    def __init__(
        self, images: BuildImages, work_dir: Path, clock: SpanClock, *, cache: bool, platform: str | None = None,
    ) -> None:
        self._stages: list[PlanStage] = []  # in build order
        self._images = images
        self._work_dir = work_dir
        self._clock = clock
        self._platform = platform
        self._cache = cache
        self._running: dict[int, _Extraction] = {}

    def set_build_order(self, stages: Sequence[PlanStage]) -> None:
        """Set the stages to build, in order; nothing starts early before this call."""
        self._stages = list(stages)

    def start_after(self, plan: StagePlan) -> None:
        """Start extracting the base of the stage built after `plan`'s, when it qualifies."""
        if all(instruction.hit for instruction in plan.instructions):
            return
        positions = [stage.index for stage in self._stages]
        if plan.index not in positions or positions.index(plan.index) + 1 >= len(positions):
            return
        stage = self._stages[positions.index(plan.index) + 1]
        if stage.base_index is not None or stage.base_ref is None or stage.index in self._running:
            return
        if not unpacks_before_planning(stage, cache=self._cache):
            return
        base = self._images.resolved_base(stage.base_ref, platform=self._platform)
        if base is None or not base.local:
            return
        layers = [
            ImageLayer(layer.digest, layer.diff_id, layer.size, layer.media_type, layer.opener, origin="base",
                       store_file=store_file(base.image.source, layer.digest), image=stage.base_ref)
            for layer in base.image.layers()
        ]
        directory = self._work_dir / str(stage.index) / "root"
        blob_dir = self._work_dir / str(stage.index) / "blobs"
        directory.mkdir(parents=True)
        blob_dir.mkdir()
        extraction = _Extraction(stage.index, layers, directory, blob_dir)
        extraction.thread = threading.Thread(
            target=extraction.run, name=f"base-prefetch-{stage.index}", daemon=True,
        )
        self._running[stage.index] = extraction
        extraction.thread.start()
        logger.debug("extracting the base %s of stage %d early", stage.base_ref, stage.index)

    def take(self, stage_index: int, layers: Sequence[ImageLayer], root: Path) -> list[ImageLayer] | None:
        """Move an early extraction of exactly `layers` to the empty directory `root`.

        Returns the layers with their local blob files, or None when there is no
        usable early extraction and the caller must extract them itself.
        """
        extraction = self._running.pop(stage_index, None)
        if extraction is None:
            return None
        if [layer.digest for layer in extraction.layers] != [layer.digest for layer in layers]:
            self._discard(extraction, "its layers differ from the stage's")
            return None

        local_layers: list[ImageLayer] = []
        for position, layer in enumerate(layers):
            with self._clock.span("download") as span:
                span.attributes["digest"] = layer.digest
                span.attributes["origin"] = layer.origin
                span.attributes["prefetched"] = "true"
                if position == 0:
                    # The wait for the thread counts as the first download, the start of its work.
                    assert extraction.thread is not None
                    extraction.thread.join()
                    if extraction.error is not None:
                        span.attributes["failed"] = "true"
                        self._discard(extraction, f"it failed: {extraction.error}")
                        return None
                span.add_bytes(layer.size)
                span.add_requests(0)  # a local base; registry bases never start early
            with self._clock.span("unpack") as span:
                local = extraction.local_layers[position]
                local_layers.append(dataclasses.replace(layer, path=local.path, open=local.open))
                span.add_bytes(extraction.file_bytes[position])
                span.attributes["digest"] = layer.digest
                span.attributes["origin"] = layer.origin
                span.attributes["prefetched"] = "true"
        root.rmdir()
        extraction.directory.rename(root)
        return local_layers

    def close(self) -> None:
        """Wait for every extraction still running; the work directory's cleanup removes them."""
        for extraction in self._running.values():
            if extraction.thread is not None:
                extraction.thread.join()
        self._running.clear()

    def _discard(self, extraction: _Extraction, reason: str) -> None:
        if extraction.thread is not None:
            extraction.thread.join()
        logger.debug("dropping the early extraction of stage %d's base: %s", extraction.stage_index, reason)
        shutil.rmtree(extraction.directory.parent, ignore_errors=True)
