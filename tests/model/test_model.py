"""The model on self-written Dockerfiles: decisions from the real Planner, modelled costs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cachelab.dockerfile import parse_dockerfile
from cachelab.keys.flags import profile
from cachelab.model.cache import ModelCache
from cachelab.model.catalog import BaseImageCatalog, repository_of, tag_of
from cachelab.model.costs import CostModel, calibrate
from cachelab.model.errors import CalibrationError, CatalogError
from cachelab.model.events import BuildLabels, simulated_events
from cachelab.model.simulate import SimulationInputs, simulate_build
from cachelab.model.standin import StandInImageSource, standin_digest
from cachelab.model.warm import warm_rebuild
from cachelab.record import Recording

NOW = datetime(2026, 12, 1, tzinfo=UTC)
MB = 1_000_000

FAN_IN = """\
FROM golang:1.22 AS build
COPY . /src
RUN go build -o /out/app ./...

FROM node:20 AS web
COPY web/ /web
RUN npm ci && npm run build

FROM alpine:3.20
COPY --from=build /out/app /usr/bin/app
COPY --from=web /web/dist /srv
CMD ["app"]
"""

SINGLE = """\
FROM python:3.12-slim
COPY requirements.txt /app/
RUN pip install -r /app/requirements.txt
"""

CATALOG = {
    "snapshot_date": "2026-12-01",
    "default_compressed_bytes": 7 * MB,
    "uncompressed_ratio": 2.0,
    "images": [
        {"repository": "library/golang", "variant": None, "compressed_bytes": 300 * MB, "source": "estimate"},
        {"repository": "library/node", "variant": None, "compressed_bytes": 400 * MB, "source": "estimate"},
        {"repository": "library/alpine", "variant": None, "compressed_bytes": 4 * MB, "source": "estimate"},
        {"repository": "library/python", "variant": "slim", "compressed_bytes": 45 * MB, "source": "estimate"},
    ],
}


def inputs_for(text: str, tmp_path: Path, costs: CostModel | None = None) -> SimulationInputs:
    return SimulationInputs(
        dockerfile=parse_dockerfile(text), images=StandInImageSource(), context_dir=str(tmp_path),
        costs=costs or CostModel(), catalog=BaseImageCatalog.from_document(CATALOG), now=NOW,
    )


def test_cold_build_fills_cache(tmp_path):
    cache = ModelCache()
    build = simulate_build(
        inputs_for(FAN_IN, tmp_path), strategy="lookahead", profile="kaniko-lookahead",
        options=profile("kaniko-lookahead"), cache=cache,
    )

    assert [plan.action for plan in build.plans] == ["built", "built", "built"]
    assert build.cache_hits == 0
    # Two layers per producer, two COPY --from layers with their pointers.
    assert len(cache.pointers()) == 2
    assert len(cache) == 4 + 2 + 2
    assert build.bytes_pushed > 0


def test_warm_rebuild_lookahead_eliminates_producers(tmp_path):
    rebuild = warm_rebuild(inputs_for(FAN_IN, tmp_path), "kaniko-lookahead")

    warm = rebuild.warm
    assert [plan.action for plan in warm.plans] == ["eliminated", "eliminated", "built"]
    assert all(plan.key_a_priori for plan in warm.plans)
    assert warm.cache_hits == 2 and warm.cache_misses == 0
    # Only the final stage's two cached COPY layers are downloaded: 20 MB each, compressed by 2.5.
    assert warm.bytes_downloaded == 2 * 8 * MB
    assert warm.count("eliminated") == 2


def test_warm_rebuild_per_stage_downloads_bases(tmp_path):
    rebuild = warm_rebuild(inputs_for(FAN_IN, tmp_path), "kaniko-copy")

    warm = rebuild.warm
    assert [plan.action for plan in warm.plans] == ["built"] * 3
    assert warm.cache_hits == 6
    # Producers save files for COPY --from, so they unpack golang and node again.
    base_bytes = 300 * MB + 400 * MB
    layer_bytes = 2 * 2 * MB + 2 * 20 * MB + 2 * 8 * MB
    assert warm.bytes_downloaded == base_bytes + layer_bytes
    assert warm.plans[2].key_blockers == ["inference-disabled"]
    assert not warm.plans[2].key_a_priori


def test_lookahead_saves_time_on_fan_in(tmp_path):
    inputs = inputs_for(FAN_IN, tmp_path)

    per_stage = warm_rebuild(inputs, "kaniko-copy").warm
    lookahead = warm_rebuild(inputs, "kaniko-lookahead").warm

    assert lookahead.wall_s < per_stage.wall_s
    assert per_stage.wall_s < warm_rebuild(inputs, "kaniko-copy").cold.wall_s


def test_single_stage_has_nothing_to_eliminate(tmp_path):
    inputs = inputs_for(SINGLE, tmp_path)

    per_stage = warm_rebuild(inputs, "kaniko-copy").warm
    lookahead = warm_rebuild(inputs, "kaniko-lookahead").warm

    assert lookahead.count("eliminated") == 0
    assert lookahead.bytes_downloaded == per_stage.bytes_downloaded


def test_cold_build_costs_follow_parameters(tmp_path):
    slow = CostModel(run_s=100.0)
    fast = CostModel(run_s=1.0)

    slow_cold = warm_rebuild(inputs_for(SINGLE, tmp_path, slow), "kaniko-copy").cold
    fast_cold = warm_rebuild(inputs_for(SINGLE, tmp_path, fast), "kaniko-copy").cold

    assert slow_cold.wall_s - fast_cold.wall_s == pytest.approx(99.0)


def test_model_events_make_four_tables(tmp_path):
    rebuild = warm_rebuild(inputs_for(FAN_IN, tmp_path), "kaniko-lookahead")
    labels = BuildLabels("b-1", "run", "fan-in", "warm-unchanged", 1, NOW)

    recording = Recording.from_events(simulated_events(rebuild.warm, labels), environment={})

    build = recording.builds.iloc[0]
    assert build["engine"] == "model"
    assert build["wall_s"] == pytest.approx(rebuild.warm.wall_s)
    assert build["bytes_downloaded"] == rebuild.warm.bytes_downloaded
    assert list(recording.stages["action"]) == ["eliminated", "eliminated", "built"]
    skipped = recording.instructions[recording.instructions["stage_index"] < 2]
    assert set(skipped["decision"]) == {"skipped"}
    assert recording.stages.loc[2, "download_s"] == pytest.approx(2 * 8 * MB / CostModel().download_bytes_per_s)


def test_calibrate_from_recording(tmp_path):
    rebuild = warm_rebuild(inputs_for(FAN_IN, tmp_path, CostModel(download_bytes_per_s=10e6)), "kaniko-copy")
    labels = BuildLabels("b-1", "run", "fan-in", "warm-unchanged", 1, NOW)
    recording = Recording.from_events(simulated_events(rebuild.warm, labels), environment={})

    fitted = calibrate(recording)

    assert fitted.download_bytes_per_s == pytest.approx(10e6)
    assert fitted.unpack_bytes_per_s == pytest.approx(CostModel().unpack_bytes_per_s)
    assert fitted.run_s == CostModel().run_s


def test_calibrate_rejects_empty_recording():
    with pytest.raises(CalibrationError):
        calibrate(Recording.empty())


def test_standin_seed_is_reference_hash():
    image = StandInImageSource().resolve("golang:1.22")

    assert image.seed == standin_digest("golang:1.22")
    assert image.manifest_digest == "sha256:" + image.seed
    assert json.loads(image.config)["config"]["Env"][0].startswith("PATH=")


@pytest.mark.parametrize(
    ("reference", "repository", "tag"),
    [
        ("python:3.12-slim", "library/python", "3.12-slim"),
        ("docker.io/library/node", "library/node", "latest"),
        ("gcr.io/distroless/static:nonroot", "gcr.io/distroless/static", "nonroot"),
        ("localhost:5000/app@sha256:" + "a" * 64, "localhost:5000/app", "latest"),
    ],
)
def test_reference_parts(reference, repository, tag):
    assert repository_of(reference) == repository
    assert tag_of(reference) == tag


def test_catalog_variants_and_default():
    catalog = BaseImageCatalog.from_document(CATALOG)

    assert catalog.size("python:3.12-slim").compressed_bytes == 45 * MB
    assert catalog.size("python:3.12").source == "default"
    assert catalog.size("example.org/unknown:1").compressed_bytes == 7 * MB
    assert catalog.size("scratch").compressed_bytes == 0


def test_shipped_catalog_is_marked():
    catalog = BaseImageCatalog.load()

    assert catalog.snapshot_date is not None
    assert {size.source for size in catalog.entries.values()} == {"estimate"}
    assert catalog.size("alpine:3.20").compressed_bytes > 0


def test_catalog_rejects_bad_entry(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"images": [{"repository": "library/alpine"}]}))

    with pytest.raises(CatalogError, match="image entry 0"):
        BaseImageCatalog.load(path)
