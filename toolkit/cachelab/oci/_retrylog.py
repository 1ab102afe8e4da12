"""Retry warnings of one registry client, one per repository and then a count.

A registry that responds with HTTP 500 to every request makes every operation
of a build retry, so a warning per attempt floods the output: 27 warnings for
`cachelab build datasets/examples/two-stage` with the default 3 retries. The
first retry for each repository is a warning. Later ones are logged at DEBUG
with the same facts and counted by reason, and `summarize` logs one warning
per repository with the counts.
"""

from __future__ import annotations

import logging
from collections import Counter


class RetryLog:
    """Logs the retries of one `RegistryClient` on `logger` (see the module docstring)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._warned: set[str] = set()
        self._later: dict[str, Counter[str]] = {}

    def retrying(
        self, repository: str, method: str, url: str, delay: float, attempt: int, max_retries: int, reason: str,
    ) -> None:
        """Log one retry of a request to `repository` ("host/name", or the host for requests outside one)."""
        if repository not in self._warned:
            self._warned.add(repository)
            self._logger.warning(
                "retrying %s %s in %.1f s (attempt %d of %d): %s. Later retries for %s are logged at "
                "debug level (-vv) and counted when the client closes",
                method, url, delay, attempt, max_retries, reason, repository,
            )
            return
        self._later.setdefault(repository, Counter())[reason] += 1
        self._logger.debug("retrying %s %s in %.1f s (attempt %d of %d): %s",
                           method, url, delay, attempt, max_retries, reason)

    def summarize(self) -> None:
        """Log one warning per repository with the retries after its first warning, then forget them."""
        for repository, reasons in self._later.items():
            total = sum(reasons.values())
            counts = ", ".join(f"{count} after {reason}" for reason, count in reasons.most_common())
            self._logger.warning("%s: %d more %s after the first retry warning (%s)",
                                 repository, total, "retry" if total == 1 else "retries", counts)
        self._later.clear()
