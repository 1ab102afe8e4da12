"""Ingested runs to a `Recording`, keeping each engine's own span names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cachelab.events import Event
from cachelab.record import Recording

# Extra column of the spans table: the engine's own name of the span (kaniko's
# `Snapshotting FS`, a BuildKit vertex name), NA for spans cachelab derived.
ENGINE_NAME_COLUMN = "engine_name"


def recording_from_events(
    events: Iterable[Event], span_names: Mapping[tuple[str, str], str] | None = None
) -> Recording:
    """Build the tables of ingested events and add the spans' `engine_name` column.

    `span_names` maps (build_id, span_id) to the engine's name of that span. The
    environment is left empty because the builds ran on a machine cachelab did not
    see.
    """
    recording = Recording.from_events(events, environment={})
    names = span_names or {}
    spans = recording.spans
    column = [names.get((build_id, span_id)) for build_id, span_id in zip(spans["build_id"], spans["span_id"])]
    spans[ENGINE_NAME_COLUMN] = column
    spans[ENGINE_NAME_COLUMN] = spans[ENGINE_NAME_COLUMN].astype("string")
    return recording


def add_columns(recording: Recording, table: str, columns: Mapping[str, list[object]], dtype: str) -> None:
    """Append extra columns of one dtype to `table` of `recording`."""
    frame = getattr(recording, table)
    for name, values in columns.items():
        frame[name] = values
        frame[name] = frame[name].astype(dtype)
