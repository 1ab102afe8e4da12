"""Errors of the study layer: invalid scenarios, mutations and study inputs."""

from __future__ import annotations

from cachelab.errors import CachelabError


class StudyError(CachelabError):
    """A scenario, a mutation or a study's input cannot be used."""


class ScenarioError(StudyError):
    """A scenario string or scenario file is invalid."""


class MutationError(StudyError):
    """A mutation cannot be applied to the work copy, e.g. its file is missing."""
