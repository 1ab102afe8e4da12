"""The Dockerfile warnings of a corpus study: the first few of each kind logged, all counted.

A corpus of 100k files can raise the same kind of warning thousands of times
(a FROM line that uses TARGETOS, a `--from` that names no stage). A study logs
the first `SHOWN_PER_KIND` warnings of each kind as `cachelab build` would,
counts every one, and reports the counts as headline rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from cachelab.dockerfile.layer_warnings import (
    FROM_LATER_STAGE,
    IMAGE_NOT_STAGE,
    UNSET_PLATFORM_ARG,
    DockerfileWarning,
)

logger = logging.getLogger(__name__)

SHOWN_PER_KIND = 5
# Headline metric and what it counts, per kind of warning.
HEADLINE_ROWS = {
    UNSET_PLATFORM_ARG: (
        "unset_platform_args", "FROM words using a platform ARG that kaniko leaves unset (BuildKit sets it)",
    ),
    IMAGE_NOT_STAGE: (
        "from_image_not_stage", "--from values that name no stage, so they are images on Docker Hub",
    ),
    FROM_LATER_STAGE: (
        "from_later_stage", "FROM words naming a later stage or their own, so they are images on Docker Hub",
    ),
}


class WarningTally:
    """Logs the first `shown_per_kind` warnings of each kind it is given and counts them all."""

    def __init__(self, shown_per_kind: int = SHOWN_PER_KIND) -> None:
        self.shown_per_kind = shown_per_kind
        self.warnings: Counter[str] = Counter()
        self.files: Counter[str] = Counter()

    def add(self, warnings: Iterable[DockerfileWarning]) -> None:
        """Count the warnings of one file, logging those within the first `shown_per_kind` of their kind."""
        kinds = set()
        for warning in warnings:
            if self.warnings[warning.kind] < self.shown_per_kind:
                warning.log()
            self.warnings[warning.kind] += 1
            kinds.add(warning.kind)
        self.files.update(kinds)

    def log_unshown(self) -> None:
        """Log, for each kind with warnings beyond the first few, how many were counted but not logged."""
        for kind, count in sorted(self.warnings.items()):
            if count > self.shown_per_kind:
                logger.warning(
                    "%d more %s warnings were not logged; the report's %s row counts all %d, in %d files",
                    count - self.shown_per_kind, kind, metric_name(kind), count, self.files[kind],
                )

    def headline_rows(self) -> list[dict[str, object]]:
        """Return one `static` headline row per kind: the number of warnings and of files with any."""
        kinds = [*HEADLINE_ROWS, *sorted(set(self.warnings) - set(HEADLINE_ROWS))]
        rows: list[dict[str, object]] = []
        for kind in kinds:
            metric, described = HEADLINE_ROWS.get(kind, (metric_name(kind), f"Dockerfile warnings of kind {kind}"))
            rows.append({
                "metric": metric, "profile": None, "value": float(self.warnings[kind]),
                "mode": "static", "note": f"{described}, in {self.files[kind]} files",
            })
        return rows


def metric_name(kind: str) -> str:
    """Return the headline metric that counts warnings of `kind`."""
    if kind in HEADLINE_ROWS:
        return HEADLINE_ROWS[kind][0]
    return "warnings_" + kind.replace("-", "_")
