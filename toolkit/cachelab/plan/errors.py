"""Errors of the planner.

    PlanError
    +-- PlanOrderError        plan_stage called out of order, or for a stage that is not built
    +-- BaseImageError        a base image could not be read from saved files
    +-- CachePointerError     a pointer entry has no target label
    +-- CacheStoreError       a `--cache` value names no usable store
"""

from __future__ import annotations


class PlanError(Exception):
    """Base of the planner's errors.

    `hint` is one sentence telling the user what to do next; the CLI prints it on
    its own line.
    """

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class PlanOrderError(PlanError):
    """The builder asked for a stage the planner cannot plan yet or at all."""

    hint = "Plan stages in the order of `Planner.build_order()` and report each with `stage_done`."


class BaseImageError(PlanError):
    """A base image given as saved manifest and config files is unusable."""

    hint = "Give each base as REF=MANIFEST.json,CONFIG.json with the files the registry served."


class CachePointerError(PlanError):
    """A pointer lookup found an entry without the pointer label."""

    hint = "Delete the entry from the cache repository; kaniko writes pointers only with a label."


class CacheStoreError(PlanError):
    """The `--cache` option names a store that is missing or unsupported."""

    hint = "Use `--cache mem` or `--cache oci:DIR` with an existing directory."
