"""The static study of real Dockerfiles: stage graphs, base pinning and a-priori keys.

For each Dockerfile it records, per stage as written, the shape of the stage graph
(FROM chains, `COPY --from` fan-in and fan-out, external-image sources) and how
the base is pinned. For each profile of `PROFILE_STRATEGIES` it also records what
the real Planner decides on an unchanged warm rebuild: the stage's action,
whether its key is known a priori, what blocks it, and the static risks.

Nothing is fetched, built or hashed. The Planner runs against the model's
simulated cache (`cachelab.model`): a cold build writes every layer and pointer,
then the rebuild is planned. Profiles without lookahead (`kaniko`) are planned
once with `static_stage_plans`, because their decisions about a stage's key do
not depend on the cache. Two stand-ins make this possible offline, and both
are stated in every output:

* every base image resolves to `StandInImageSource`'s synthetic image, whose seed
  is the SHA-256 of the reference text;
* every context or stage file resolves to the key engine's `placeholder` part.

Files are studied one at a time from a stream (`study_entries`), optionally on
several processes in chunks (`cachelab.corpus.study_parallel`).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self

from cachelab.corpus.manifest import CorpusEntry
from cachelab.corpus.scan import SCAN_PLATFORM, reference_pin
from cachelab.dockerfile import (
    Dockerfile,
    DockerfileError,
    StageGraph,
    parse_dockerfile,
)
from cachelab.dockerfile.layer_warnings import DockerfileWarning, collect_warnings
from cachelab.errors import CachelabError
from cachelab.events import Event
from cachelab.keys.errors import KeyEngineError
from cachelab.keys.flags import profile as named_profile
from cachelab.keys.parts import bind_mount_warnings
from cachelab.model.catalog import BaseImageCatalog
from cachelab.model.costs import CostModel
from cachelab.model.events import BuildLabels, simulated_events
from cachelab.model.simulate import SimulationInputs, static_stage_plans
from cachelab.model.standin import StandInImageSource
from cachelab.model.warm import (
    PROFILE_STRATEGIES,
    SCENARIO,
    STRATEGY_PROFILES,
    WarmRebuild,
    warm_rebuild,
)
from cachelab.plan.decisions import StagePlan
from cachelab.plan.errors import PlanError
from cachelab.plan.setup import PlannerSetup

logger = logging.getLogger(__name__)

STUDY_PROFILES = tuple(PROFILE_STRATEGIES)
# Descriptions of the stand-ins, repeated as `assumption` rows of the headline table.
BASE_STANDIN = "unknown bases: synthetic image, seed = sha256(reference)"
FILE_PLACEHOLDER = "absent context and stage files: placeholder part sha256('cachelab-missing-source:' + path in the context)"


@dataclass(slots=True)
class FileStudy:
    """The study of one Dockerfile: a file row and its stage rows (one per stage and profile).

    `events` contains the model's build events (cold and warm build of each
    strategy, `engine="model"`) when the settings ask for them; it is empty otherwise.
    `unhashed_bind_mounts` counts the RUN bind mounts from another stage or image
    that kaniko leaves out of the key, each (line, origin) once. `warnings`
    contains the Dockerfile layer's warnings about this file, which the study
    collects instead of logging.
    """

    dockerfile_id: str
    file_row: dict[str, object]
    stage_rows: list[dict[str, object]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    unhashed_bind_mounts: int = 0
    warnings: list[DockerfileWarning] = field(default_factory=list)


@dataclass(slots=True)
class StudySettings:
    """Inputs shared by every file of one study."""

    costs: CostModel = field(default_factory=CostModel)
    catalog: BaseImageCatalog = field(default_factory=BaseImageCatalog.load)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    record_events: bool = False
    run_id: str = "model"


class Study:
    """Studies Dockerfiles one after another with one empty context directory and one image stand-in."""

    def __init__(self, settings: StudySettings | None = None) -> None:
        self.settings = settings or StudySettings()
        self._context = tempfile.TemporaryDirectory(prefix="cachelab-study-")
        self.images = StandInImageSource()
        # Every file's planners resolve the same empty context directory.
        self._context_dirs: dict[str, str] = {}

    def close(self) -> None:
        self._context.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def study_text(self, text: str, dockerfile_id: str) -> FileStudy:
        """Study one Dockerfile's text; parse and planning failures become a file row with `error`.

        The file's warnings are returned in the result, not logged.
        """
        # A corpus can contain thousands of these warnings, so the caller decides
        # which to log and counts the rest.
        with bind_mount_warnings(dockerfile_id, collect=True) as bind_mounts, collect_warnings() as warnings:
            result = self._study_text(text, dockerfile_id)
        result.unhashed_bind_mounts = len(bind_mounts.found)
        result.warnings = warnings.found
        return result

    def _study_text(self, text: str, dockerfile_id: str) -> FileStudy:
        file_row: dict[str, object] = {"dockerfile_id": dockerfile_id, "error": None}
        result = FileStudy(dockerfile_id, file_row)
        try:
            dockerfile = parse_dockerfile(text, dockerfile_id)
            setup = PlannerSetup(dockerfile, context_dirs=self._context_dirs)
            # The planners select their stages from this same graph.
            bases = setup.resolver(self.images, options=named_profile(STUDY_PROFILES[0]), platform=SCAN_PLATFORM)
            graph = setup.stage_graph(targets=(), build_args={}, bases=bases)
        except DockerfileError as exc:
            file_row.update(error_kind="parse", error=str(exc), stages=None)
            return result
        file_row.update(_file_shape(dockerfile, graph))

        inputs = SimulationInputs(
            dockerfile=dockerfile, images=self.images, context_dir=self._context.name,
            costs=self.settings.costs, catalog=self.settings.catalog, now=self.settings.now,
            setup=setup, platform=SCAN_PLATFORM,
        )
        try:
            # Savings read only the warm builds, and events also report the cold ones.
            rebuilds = {
                name: warm_rebuild(inputs, name, cold_costs=self.settings.record_events)
                for name in STRATEGY_PROFILES.values()
            }
            plans = {name: rebuild.warm.plans for name, rebuild in rebuilds.items()}
            for name in STUDY_PROFILES:
                if name not in plans:
                    plans[name] = static_stage_plans(inputs, named_profile(name))
        except (DockerfileError, KeyEngineError, PlanError, CachelabError) as exc:
            file_row.update(error_kind="plan", error=str(exc))
            logger.info("%s: planning failed: %s", dockerfile_id, exc)
            return result

        result.stage_rows = _stage_rows(dockerfile_id, _stage_shapes(dockerfile, graph), plans)
        file_row.update(_modelled_savings(rebuilds))
        if self.settings.record_events:
            result.events = model_events(rebuilds, dockerfile_id, run_id=self.settings.run_id, now=self.settings.now)
        return result


def _stage_rows(
    dockerfile_id: str, shapes: dict[int, dict[str, object]], plans: dict[str, list[StagePlan]],
) -> list[dict[str, object]]:
    """Return one row per stage as written and profile: its shape and the warm rebuild's decisions."""
    rows = []
    for name in STUDY_PROFILES:
        for plan in plans[name]:
            row = dict(shapes[plan.index])
            row.update(
                dockerfile_id=dockerfile_id, profile=name, strategy=PROFILE_STRATEGIES[name],
                action=plan.action, key_a_priori=plan.key_a_priori,
                key_blockers=list(plan.key_blockers), key_risks=list(plan.key_risks),
                mode="static",
            )
            rows.append(row)
    return rows


def model_events(
    rebuilds: dict[str, WarmRebuild], dockerfile_id: str, *, run_id: str, now: datetime,
) -> list[Event]:
    """Return the events of the cold (step 0) and warm (step 1) builds of each modelled strategy."""
    digest = hashlib.sha256(dockerfile_id.encode("utf-8")).hexdigest()[:16]
    events: list[Event] = []
    for strategy, profile_name in STRATEGY_PROFILES.items():
        rebuild = rebuilds[profile_name]
        for step, build in enumerate((rebuild.cold, rebuild.warm)):
            labels = BuildLabels(
                build_id=f"{run_id}-{digest}-{strategy}-{step}", run_id=run_id,
                dockerfile_id=dockerfile_id, scenario=SCENARIO, step=step, started_at=now,
            )
            events.extend(simulated_events(build, labels))
    return events


def _file_shape(dockerfile: Dockerfile, graph: StageGraph) -> dict[str, object]:
    chains: dict[int, int] = {}
    for stage in graph.stages:
        base = stage.base_stage
        chains[stage.index] = 1 + (chains[base] if base is not None else 0)
    return {
        "error_kind": None,
        "stages": len(dockerfile.stages),
        "multistage": len(dockerfile.stages) > 1,
        "live_stages": sum(1 for stage in graph.stages if stage.live),
        "built_stages": len(graph.built),
        "max_from_chain": max(chains.values(), default=0),
        "copy_from_stage": sum(1 for s in graph.stages for ref in s.sources if ref.stage is not None),
        "copy_from_image": sum(1 for s in graph.stages for ref in s.sources if ref.image is not None),
    }


def base_pin(written_base: str, base_kind: str, base_image: str | None) -> str:
    """Classify how a stage's base is pinned: scratch, stage, arg, digest, tag or latest.

    `arg` means the FROM word needs a variable (its meta ARG default decides the image).
    """
    if base_kind == "scratch":
        return "scratch"
    if base_kind == "stage":
        return "stage"
    if "$" in written_base:
        return "arg"
    return reference_pin(base_image or written_base)


def _stage_shapes(dockerfile: Dockerfile, graph: StageGraph) -> dict[int, dict[str, object]]:
    """Return the graph features of every stage as written, by index."""
    consumers: Counter[int] = Counter()
    children: Counter[int] = Counter()
    for info in graph.stages:
        for source in {ref.stage for ref in info.sources if ref.stage is not None}:
            consumers[source] += 1
        if info.base_stage is not None:
            children[info.base_stage] += 1

    shapes: dict[int, dict[str, object]] = {}
    depth: dict[int, int] = {}
    for info, stage in zip(graph.stages, dockerfile.stages, strict=True):
        depth[info.index] = 1 + (depth[info.base_stage] if info.base_stage is not None else 0)
        shapes[info.index] = {
            "stage_index": info.index,
            "stage_name": info.name,
            "base": stage.base,
            "base_kind": info.base_kind,
            "base_pin": base_pin(stage.base, info.base_kind, info.base_image),
            "from_chain_depth": depth[info.index],
            "from_children": children[info.index],
            "copy_from_sources": len({ref.stage for ref in info.sources if ref.stage is not None}),
            "copy_from_consumers": consumers[info.index],
            "external_sources": sum(1 for ref in info.sources if ref.image is not None),
            "live": info.live,
        }
    return shapes


def _modelled_savings(rebuilds: dict[str, WarmRebuild]) -> dict[str, object]:
    """Return the model's warm-rebuild columns of a file row, each prefixed `model_`."""
    per_stage = rebuilds[STRATEGY_PROFILES["per-stage"]].warm
    lookahead = rebuilds[STRATEGY_PROFILES["lookahead"]].warm
    # Each property sums every phase of the build, so read each one once.
    per_stage_s, lookahead_s = per_stage.wall_s, lookahead.wall_s
    per_stage_bytes, lookahead_bytes = per_stage.bytes_downloaded, lookahead.bytes_downloaded
    saved_s = per_stage_s - lookahead_s
    return {
        "model_per_stage_warm_s": per_stage_s,
        "model_lookahead_warm_s": lookahead_s,
        "model_per_stage_warm_bytes": per_stage_bytes,
        "model_lookahead_warm_bytes": lookahead_bytes,
        "model_per_stage_stages_built": per_stage.count("built"),
        "model_lookahead_stages_built": lookahead.count("built"),
        "stages_eliminated": lookahead.count("eliminated"),
        "model_saved_s": saved_s,
        "model_saved_fraction": saved_s / per_stage_s if per_stage_s else 0.0,
        "model_saved_bytes": per_stage_bytes - lookahead_bytes,
    }


def study_entries(entries: Iterable[CorpusEntry], settings: StudySettings | None = None) -> Iterator[FileStudy]:
    """Study each entry in order, reading one file at a time; undecodable files get an error row."""
    with Study(settings) as study:
        for entry in entries:
            yield study_entry(study, entry.id, entry.read_bytes())


def study_entry(study: Study, dockerfile_id: str, data: bytes) -> FileStudy:
    """Study one file's bytes; a file that is not UTF-8 gets a file row with a `decode` error."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        row: dict[str, object] = {
            "dockerfile_id": dockerfile_id, "error_kind": "decode",
            "error": f"not valid UTF-8 at byte offset {exc.start}",
        }
        return FileStudy(dockerfile_id, row)
    return study.study_text(text, dockerfile_id)
