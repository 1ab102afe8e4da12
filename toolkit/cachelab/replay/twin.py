"""Runnable twins of real Dockerfiles: the same stage graph and instruction sequence.

A twin keeps every stage as written (renamed `s<index>`), every FROM edge and
every `COPY --from`, and one instruction per original instruction, of the same
kind where that is safe to run offline:

* a base image becomes `twin.cachelab.invalid/base-<hash>:1`, a busybox image with
  a filler file of the catalogued size divided by `scale` (see `TwinBase`);
  `scratch` stays scratch;
* RUN writes a deterministic file of `run_output_bytes / scale` bytes under
  `/twin` (busybox awk with a fixed seed, eight hex digits per draw, so it
  compresses to about half) and sleeps `run_s / scale` seconds;
  it drops `RUN --mount from=` flags, which kaniko skips when running and
  which build no stage, so the twin builds the stages the original would;
* COPY and ADD from the context (a remote ADD included) keep their kind and copy
  a generated file set of `copy_context_bytes / scale` bytes;
* `COPY --from` copies the source stage's `/twin` directory, or its base's
  marker file when the source stage writes nothing there, or the whole (empty)
  root of a source stage that writes nothing on `scratch`;
* WORKDIR, ENV, ARG, LABEL, EXPOSE, CMD, ENTRYPOINT, STOPSIGNAL, HEALTHCHECK,
  SHELL and MAINTAINER keep their kind with fixed harmless values; USER becomes
  `USER root`; VOLUME and ONBUILD become LABELs, because a volume or a trigger
  changes what later instructions see.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cachelab.dockerfile.graph import SourceRef, StageGraph
from cachelab.dockerfile.model import Dockerfile, Instruction
from cachelab.model.catalog import BaseImageCatalog
from cachelab.model.costs import CostModel
from cachelab.model.errors import ModelError

logger = logging.getLogger(__name__)

TWIN_REGISTRY = "twin.cachelab.invalid"
DEFAULT_SCALE = 500.0
# Files per generated context COPY.
CONTEXT_FILES = 3


@dataclass(frozen=True, slots=True)
class TwinBase:
    """A twin base image to generate: its reference and filler size."""

    reference: str
    original: str
    filler_bytes: int


@dataclass(slots=True)
class Twin:
    """A generated twin: its Dockerfile, context directory and the base images it needs."""

    dockerfile: Path
    context: Path
    bases: list[TwinBase] = field(default_factory=list)


def twin_reference(original: str) -> str:
    """Return the twin base reference standing for the image `original`."""
    digest = hashlib.sha256(original.encode("utf-8")).hexdigest()[:16]
    return f"{TWIN_REGISTRY}/base-{digest}:1"


def deterministic_bytes(size: int, seed: str) -> bytes:
    """Return `size` pseudo-random bytes that depend only on `seed` (incompressible filler)."""
    generator = random.Random(seed)
    return generator.randbytes(size)


class TwinWriter:
    """Writes the twin of one Dockerfile into a directory."""

    def __init__(self, *, catalog: BaseImageCatalog, costs: CostModel, scale: float = DEFAULT_SCALE) -> None:
        if not (math.isfinite(scale) and scale > 0):
            raise ModelError(
                f"invalid twin scale {scale}: expected a finite number greater than 0",
                hint="Pass a scale such as 500, the factor that divides every modelled size and RUN time.",
            )
        self.catalog = catalog
        self.costs = costs
        self.scale = scale
        self._has_marker: dict[int, bool] = {}

    def write(self, dockerfile: Dockerfile, graph: StageGraph, directory: Path) -> Twin:
        """Write `Dockerfile` and `context/` of the twin of `dockerfile` into `directory`."""
        context = directory / "context"
        context.mkdir(parents=True, exist_ok=True)
        twin = Twin(dockerfile=directory / "Dockerfile", context=context)
        writes_twin: dict[int, bool] = {}
        # Whether a stage's chain starts on a twin base, which has the marker file.
        self._has_marker = {}
        lines: list[str] = []
        for info, stage in zip(graph.stages, dockerfile.stages, strict=True):
            lines.append(self._from_line(info.base_kind, info.base_image, info.base_stage, info.index, twin))
            if info.base_stage is not None:
                self._has_marker[info.index] = self._has_marker.get(info.base_stage, False)
            else:
                self._has_marker[info.index] = info.base_kind == "image"
            writes = writes_twin.get(info.base_stage, False) if info.base_stage is not None else False
            sources = {ref.line: ref for ref in info.sources if ref.kind == "copy"}
            for position, instruction in enumerate(stage.instructions):
                line, wrote = self._instruction(
                    instruction, info.index, position, sources, writes_twin, context, twin,
                )
                lines.append(line)
                writes = writes or wrote
            writes_twin[info.index] = writes
            lines.append("")
        twin.dockerfile.write_text("\n".join(lines), encoding="utf-8")
        return twin

    def _from_line(
        self, kind: str, image: str | None, base_stage: int | None, index: int, twin: Twin,
    ) -> str:
        if kind == "scratch":
            return f"FROM scratch AS s{index}"
        if kind == "stage" and base_stage is not None:
            return f"FROM s{base_stage} AS s{index}"
        return f"FROM {self._base(image or 'scratch', twin)} AS s{index}"

    def _base(self, original: str, twin: Twin) -> str:
        reference = twin_reference(original)
        if all(base.reference != reference for base in twin.bases):
            size = self.catalog.size(original).compressed_bytes
            twin.bases.append(TwinBase(reference, original, int(size / self.scale)))
        return reference

    def _instruction(
        self,
        instruction: Instruction,
        stage: int,
        position: int,
        sources: Mapping[int, SourceRef],
        writes_twin: dict[int, bool],
        context: Path,
        twin: Twin,
    ) -> tuple[str, bool]:
        """Return the twin line of one instruction and whether it writes under `/twin`."""
        kind = instruction.kind
        name = f"{stage}-{position}"
        if kind == "RUN":
            return self._run_line(name), True
        if kind in ("COPY", "ADD"):
            source = sources.get(instruction.start_line)
            if source is None:
                self._context_files(context / f"c{name}", name)
                return f"{kind} c{name}/ /twin/c{name}/", True
            return self._copy_from_line(source, name, writes_twin, twin), True
        return _metadata_line(kind, name), False

    def _run_line(self, name: str) -> str:
        draws = max(1, int(self.costs.run_output_bytes / self.scale) // 8)
        sleep = self.costs.run_s / self.scale
        program = (
            f"BEGIN {{ srand({_seed(name)}); "
            f"for (i = 0; i < {draws}; i++) printf \"%08x\", int(rand() * 4294967295) }}"
        )
        return f"RUN mkdir -p /twin && awk '{program}' > /twin/r{name} && sleep {sleep:.3f}"

    def _context_files(self, directory: Path, name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        each = max(1, int(self.costs.copy_context_bytes / self.scale) // CONTEXT_FILES)
        for number in range(CONTEXT_FILES):
            (directory / f"f{number}").write_bytes(deterministic_bytes(each, f"{name}/{number}"))

    def _copy_from_line(self, source: SourceRef, name: str, writes_twin: dict[int, bool], twin: Twin) -> str:
        if source.stage is not None:
            if writes_twin.get(source.stage, False):
                path = "/twin/"
            elif self._has_marker.get(source.stage, False):
                path = "/twin-base/marker"
            else:
                path = "/"
            return f"COPY --from=s{source.stage} {path} /twin/f{name}/"
        image = self._base(source.image or "scratch", twin)
        return f"COPY --from={image} /twin-base/marker /twin/f{name}/"


def _seed(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


_METADATA_LINES = {
    "WORKDIR": "WORKDIR /twin-workdir",
    "ENV": "ENV TWIN_{name}=1",
    "ARG": "ARG TWIN_{name}=1",
    "LABEL": "LABEL twin.{name}=1",
    "EXPOSE": "EXPOSE 8080",
    "CMD": 'CMD ["sh"]',
    "ENTRYPOINT": 'ENTRYPOINT ["/bin/sh", "-c"]',
    "STOPSIGNAL": "STOPSIGNAL SIGTERM",
    "HEALTHCHECK": "HEALTHCHECK NONE",
    "SHELL": 'SHELL ["/bin/sh", "-c"]',
    "MAINTAINER": "MAINTAINER twin",
    "USER": "USER root",
}


def _metadata_line(kind: str, name: str) -> str:
    template = _METADATA_LINES.get(kind, "LABEL twin.{name}=" + kind.lower())
    return template.format(name=name.replace("-", "_"))
