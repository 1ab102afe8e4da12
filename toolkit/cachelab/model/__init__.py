"""The cost model: simulated builds from the real Planner, a simulated cache and stated costs.

`warm_rebuild` simulates a cold build that fills a `ModelCache`, then the
unchanged rebuild after it. `simulated_events` turns a simulated build into the
builder's event stream with `engine="model"`. `CostModel` holds the parameters and
`calibrate` fits them to recorded builds. Base images of real Dockerfiles are
served by `StandInImageSource` and sized by `BaseImageCatalog`.
"""

from __future__ import annotations

from cachelab.model.cache import ModelCache
from cachelab.model.catalog import BaseImageCatalog, refresh_catalog
from cachelab.model.costs import CostModel, calibrate
from cachelab.model.errors import CalibrationError, CatalogError, ModelError
from cachelab.model.events import BuildLabels, simulated_events
from cachelab.model.simulate import SimulatedBuild, SimulationInputs, simulate_build
from cachelab.model.standin import StandInImageSource
from cachelab.model.warm import WarmRebuild, warm_rebuild

__all__ = [
    "BaseImageCatalog",
    "BuildLabels",
    "CalibrationError",
    "CatalogError",
    "CostModel",
    "ModelCache",
    "ModelError",
    "SimulatedBuild",
    "SimulationInputs",
    "StandInImageSource",
    "WarmRebuild",
    "calibrate",
    "refresh_catalog",
    "simulate_build",
    "simulated_events",
    "warm_rebuild",
]
