"""`TwinWriter` rejects a scale that cannot divide sizes and times."""

from __future__ import annotations

import pytest

from cachelab.model.catalog import BaseImageCatalog
from cachelab.model.costs import CostModel
from cachelab.model.errors import ModelError
from cachelab.replay import TwinWriter

CATALOG = BaseImageCatalog.from_document({"default_compressed_bytes": 1_000_000, "images": []})


@pytest.mark.parametrize("scale", [0.0, -5.0, float("nan"), float("inf")])
def test_twin_writer_rejects_scale(scale: float) -> None:
    with pytest.raises(ModelError, match=f"invalid twin scale {scale}: expected a finite number greater than 0"):
        TwinWriter(catalog=CATALOG, costs=CostModel(), scale=scale)


def test_twin_writer_accepts_fraction() -> None:
    assert TwinWriter(catalog=CATALOG, costs=CostModel(), scale=0.5).scale == 0.5
