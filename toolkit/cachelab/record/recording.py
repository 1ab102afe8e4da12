"""`Recording`: the four tables of one or more builds, with the environments they ran in."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cachelab.events import Event
from cachelab.record import schema
from cachelab.record.environment import capture_environment
from cachelab.record.errors import RecordError
from cachelab.record.storage import load_tables, save_tables
from cachelab.record.tables import tables_from_events


@dataclass
class Recording:
    """Tables `builds`, `stages`, `instructions` and `spans` of a set of builds.

    `environments` lists the distinct machines and software versions the builds
    were recorded with (see `capture_environment`).
    """

    builds: pd.DataFrame
    stages: pd.DataFrame
    instructions: pd.DataFrame
    spans: pd.DataFrame
    environments: list[dict[str, object]] = field(default_factory=list)

    @classmethod
    def from_events(
        cls,
        events: Iterable[Event],
        *,
        environment: dict[str, object] | None = None,
    ) -> Recording:
        """Build the tables from `events`.

        `environment` defaults to this process's environment, which is right for
        builds run here. An ingester of another machine's logs passes the environment
        those logs describe, or `{}`.
        """
        tables = tables_from_events(events)
        captured = capture_environment() if environment is None else environment
        return cls(**tables, environments=[captured])

    @classmethod
    def empty(cls) -> Recording:
        """Return a recording with no builds and every column in its dtype."""
        return cls(**{name: schema.empty_table(name) for name in schema.TABLES})

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables keyed by name, in schema order."""
        return {name: getattr(self, name) for name in schema.TABLES}

    def save(self, directory: str | Path) -> Path:
        """Write the tables as Parquet files into `directory` and return its path."""
        path = Path(directory)
        save_tables(self.tables(), self.environments, path)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Recording:
        """Read a recording saved by `save`, upgrading an older schema version."""
        tables, environments = load_tables(Path(directory))
        return cls(**tables, environments=environments)


def concat(recordings: Iterable[Recording]) -> Recording:
    """Join recordings into one, or raise `RecordError` if two contain the same build_id.

    Environments that differ only in their capture time are kept once.
    """
    recordings = list(recordings)
    if not recordings:
        return Recording.empty()

    build_ids = pd.concat([r.builds["build_id"] for r in recordings], ignore_index=True)
    duplicated = build_ids[build_ids.duplicated()].unique()
    if len(duplicated):
        raise RecordError(
            f"build_id {duplicated[0]!r} occurs in more than one recording",
            hint="Give every build its own build_id, e.g. by prefixing the run_id.",
        )

    tables = {
        name: pd.concat([r.tables()[name] for r in recordings], ignore_index=True)
        for name in schema.TABLES
    }
    environments: list[dict[str, object]] = []
    seen: set[str] = set()
    for recording in recordings:
        for environment in recording.environments:
            # The capture time differs between any two captures of the same machine.
            described = {k: v for k, v in environment.items() if k != "captured_at"}
            fingerprint = json.dumps(described, sort_keys=True, default=str)
            if fingerprint not in seen:
                seen.add(fingerprint)
                environments.append(environment)
    return Recording(**tables, environments=environments)
