"""Simulated builds of one Dockerfile share one PlannerSetup."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.flags import profile
from cachelab.model.catalog import BaseImageCatalog
from cachelab.model.costs import CostModel
from cachelab.model.simulate import SimulationInputs, static_stage_plans
from cachelab.model.standin import StandInImageSource
from cachelab.model.warm import warm_rebuild
from cachelab.plan.planner import Planner
from cachelab.plan.setup import PlannerSetup

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
TEXT = "FROM alpine:3.20 AS build\nENV A=1\nRUN make\nFROM alpine:3.20\nCOPY --from=build /out /out\n"
CATALOG = {"snapshot_date": "2026-12-01", "default_compressed_bytes": 1000, "uncompressed_ratio": 2.0, "images": []}


def inputs_for(context_dir: str, setup: PlannerSetup | None = None) -> SimulationInputs:
    return SimulationInputs(
        dockerfile=parse_dockerfile(TEXT) if setup is None else setup.dockerfile, images=StandInImageSource(),
        context_dir=context_dir, costs=CostModel(), catalog=BaseImageCatalog.from_document(CATALOG), now=NOW,
        setup=setup,
    )


def test_inputs_create_setup(tmp_path):
    inputs = inputs_for(str(tmp_path))

    assert isinstance(inputs.setup, PlannerSetup)
    assert inputs.setup.dockerfile is inputs.dockerfile


def test_shared_setup_keeps_rebuild(tmp_path):
    shared = inputs_for(str(tmp_path))
    unshared = inputs_for(str(tmp_path), PlannerSetup(shared.dockerfile, memoize=False))

    for name in ("kaniko-copy", "kaniko-lookahead"):
        with_setup = warm_rebuild(shared, name)
        without = warm_rebuild(unshared, name)
        assert [p.final_key for p in with_setup.warm.plans] == [p.final_key for p in without.warm.plans]
        assert with_setup.warm.wall_s == without.warm.wall_s
        assert with_setup.warm.cache_hits == without.warm.cache_hits
    static = static_stage_plans(shared, profile("kaniko"))
    assert [p.key_a_priori for p in static] == [p.key_a_priori for p in static_stage_plans(unshared, profile("kaniko"))]


def test_uncosted_cold_build_fills_cache(tmp_path):
    inputs = inputs_for(str(tmp_path))

    costed = warm_rebuild(inputs, "kaniko-copy")
    uncosted = warm_rebuild(inputs, "kaniko-copy", cold_costs=False)

    assert uncosted.warm.wall_s == costed.warm.wall_s
    assert uncosted.warm.cache_hits == costed.warm.cache_hits > 0
    assert not uncosted.cold.costed
    assert [p.final_key for p in uncosted.cold.plans] == [p.final_key for p in costed.cold.plans]
    with pytest.raises(ValueError, match="without costs"):
        _ = uncosted.cold.wall_s


def test_planner_selects_from_setup_graph(tmp_path):
    inputs = inputs_for(str(tmp_path))
    setup = inputs.setup
    assert setup is not None
    bases = setup.resolver(inputs.images, options=profile("kaniko-copy"), platform="linux/amd64")
    graph = setup.stage_graph(targets=(), build_args={}, bases=bases)

    planner = Planner(
        inputs.dockerfile, options=profile("kaniko-copy"), context_dir=str(tmp_path), cache=None,
        images=inputs.images, platform="linux/amd64", setup=setup,
    )

    assert planner.selection.stages[0].kaniko_stage is graph.built_stage(0)


def test_platform_changes_keys(tmp_path):
    text = "FROM alpine:3.20\nARG TARGETARCH\nRUN echo $TARGETARCH\n"
    keys = {}
    for platform in ("linux/amd64", "linux/arm64"):
        dockerfile = parse_dockerfile(text)
        inputs = SimulationInputs(
            dockerfile=dockerfile, images=StandInImageSource(), context_dir=str(tmp_path), costs=CostModel(),
            catalog=BaseImageCatalog.from_document(CATALOG), now=NOW, platform=platform,
        )
        keys[platform] = warm_rebuild(inputs, "kaniko-copy").warm.plans[0].final_key

    assert keys["linux/amd64"] != keys["linux/arm64"]
