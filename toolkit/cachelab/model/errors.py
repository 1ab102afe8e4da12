"""Errors of the cost model, its base-image catalog and the replay."""

from __future__ import annotations

from cachelab.errors import CachelabError


class ModelError(CachelabError):
    """The model cannot simulate a build; `hint` defaults to the class's `default_hint`."""

    default_hint = "Check the Dockerfile and the model parameters."

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or self.default_hint)


class CatalogError(ModelError):
    """The base-image catalog cannot be read or refreshed."""

    default_hint = "Check the catalog file (datasets/base-images.json) or pass another path."


class CalibrationError(ModelError):
    """A recording has no phase that calibration can fit a parameter from."""

    default_hint = "Calibrate from builds recorded by the cachelab builder (cachelab build --record)."
