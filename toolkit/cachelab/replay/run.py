"""Build twins of real Dockerfiles with the real builder: cold, then an unchanged warm rebuild.

Each twin is built under each strategy into a fresh layout-store cache, twice
(step 0 cold, step 1 warm). The events are the builder's own (`engine="cachelab"`),
so the tables hold measured times and bytes of the twin, not of the original.
"""

from __future__ import annotations

import hashlib
import logging
import random
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from cachelab.build.builder import build
from cachelab.build.errors import BuildError
from cachelab.build.request import BuildRequest
from cachelab.corpus.manifest import CorpusEntry
from cachelab.dockerfile import DockerfileError, parse_dockerfile, plan_stages
from cachelab.events import Event, ListSink
from cachelab.model.catalog import BaseImageCatalog
from cachelab.model.costs import CostModel
from cachelab.oci.errors import OCIError
from cachelab.plan.errors import PlanError
from cachelab.replay.bases import TwinBaseStore
from cachelab.replay.twin import DEFAULT_SCALE, TwinWriter

logger = logging.getLogger(__name__)

SCENARIO = "warm-unchanged"
STRATEGIES = ("per-stage", "lookahead")


@dataclass(slots=True)
class ReplaySettings:
    """Settings of a replay: its work directory, and `scale`, which divides every modelled size."""

    work_dir: Path
    scale: float = DEFAULT_SCALE
    costs: CostModel = field(default_factory=CostModel)
    catalog: BaseImageCatalog = field(default_factory=BaseImageCatalog.load)
    strategies: Sequence[str] = STRATEGIES
    run_id: str = "replay"
    keep_twins: bool = False
    # The layout store of twin base images, shared by all twins (default: `work_dir/images`).
    images_dir: Path | None = None


@dataclass(slots=True)
class ReplayResult:
    """The builds of one twin: their events, and the error that stopped a build, if any."""

    dockerfile_id: str
    events: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def multistage_ids(entries: Iterable[CorpusEntry]) -> Iterator[str]:
    """Yield the ids of entries that parse, plan and have more than one stage."""
    for entry in entries:
        try:
            dockerfile = parse_dockerfile(entry.read_bytes().decode("utf-8"), entry.id)
            plan_stages(dockerfile, platform="linux/amd64")
        except (UnicodeDecodeError, DockerfileError):
            continue
        if len(dockerfile.stages) > 1:
            yield entry.id


def sample_ids(ids: Sequence[str], size: int | None, *, seed: int = 0) -> list[str]:
    """Return `size` ids drawn without replacement with a fixed seed, in input order (all if None)."""
    if size is None or size >= len(ids):
        return list(ids)
    chosen = set(random.Random(seed).sample(list(ids), size))
    return [identifier for identifier in ids if identifier in chosen]


class Replayer:
    """Builds twins one after another, sharing one image store of twin bases."""

    def __init__(self, settings: ReplaySettings) -> None:
        self.settings = settings
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        self.bases = TwinBaseStore(settings.images_dir or settings.work_dir / "images")
        self.writer = TwinWriter(catalog=settings.catalog, costs=settings.costs, scale=settings.scale)

    def close(self) -> None:
        self.bases.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def replay(self, dockerfile_id: str, text: str) -> ReplayResult:
        """Write the twin of one Dockerfile and build it cold and warm under each strategy."""
        result = ReplayResult(dockerfile_id)
        slug = hashlib.sha256(dockerfile_id.encode("utf-8")).hexdigest()[:16]
        directory = self.settings.work_dir / slug
        dockerfile = parse_dockerfile(text, dockerfile_id)
        twin = self.writer.write(dockerfile, plan_stages(dockerfile, platform="linux/amd64"), directory / "twin")
        for base in twin.bases:
            self.bases.ensure(base)

        for strategy in self.settings.strategies:
            cache = (directory / f"cache-{strategy}").absolute()
            for step in (0, 1):
                sink = ListSink()
                request = BuildRequest(
                    dockerfile=twin.dockerfile, context=twin.context, strategy=strategy,
                    cache=str(cache), image_store=str(self.bases.path), dockerfile_id=dockerfile_id,
                    run_id=self.settings.run_id, scenario=SCENARIO, step=step, repeat=0,
                    work_dir=directory,
                )
                try:
                    build(request, sink=sink, progress=False)
                except (BuildError, PlanError, OCIError, DockerfileError) as exc:
                    result.errors.append(f"{strategy} step {step}: {exc}")
                    logger.warning("replay of %s failed: %s step %d: %s", dockerfile_id, strategy, step, exc)
                    result.events.extend(sink.events)
                    break
                result.events.extend(sink.events)
        if not self.settings.keep_twins:
            shutil.rmtree(directory, ignore_errors=True)
        return result


def replay_entries(
    entries: Iterable[CorpusEntry], settings: ReplaySettings, *, progress: bool = False,
) -> Iterator[ReplayResult]:
    """Replay each entry in order, with a tqdm progress bar on stderr when `progress` is set."""
    items = list(entries)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc="replay", unit="file")  # type: ignore[assignment]
    with Replayer(settings) as replayer:
        for entry in items:
            yield replayer.replay(entry.id, entry.read_bytes().decode("utf-8"))
