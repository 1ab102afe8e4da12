"""Loading one side of a regression study: a recording, or recordings in subdirectories."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachelab.record import RecordError, Recording, load_recordings, synthetic_build
from cachelab.record.directories import recording_directories


def save_build(directory: Path, build_id: str, step: int) -> Path:
    events = synthetic_build(build_id, step=step)
    return Recording.from_events(events, environment={"host": "h"}).save(directory)


def test_single_recording_loads_itself(tmp_path: Path) -> None:
    save_build(tmp_path / "one", "b-0", 0)

    assert recording_directories(tmp_path / "one") == [tmp_path / "one"]
    assert load_recordings(tmp_path / "one").builds["build_id"].tolist() == ["b-0"]


def test_subdirectories_are_joined(tmp_path: Path) -> None:
    save_build(tmp_path / "side" / "warm-0", "b-1", 1)
    save_build(tmp_path / "side" / "cold-0", "b-0", 0)
    (tmp_path / "side" / "notes").mkdir()
    (tmp_path / "side" / "README").write_text("not a recording\n")

    builds = load_recordings(tmp_path / "side").builds

    assert recording_directories(tmp_path / "side") == [tmp_path / "side" / "cold-0", tmp_path / "side" / "warm-0"]
    assert builds["build_id"].tolist() == ["b-0", "b-1"]
    assert builds["step"].tolist() == [0, 1]


def test_directory_without_recordings_raises(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)

    with pytest.raises(RecordError, match="contains no recording") as raised:
        load_recordings(tmp_path / "empty")

    assert "cachelab build --record" in (raised.value.hint or "")


def test_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="recording directory not found"):
        load_recordings(tmp_path / "absent")


def test_duplicate_build_id_raises(tmp_path: Path) -> None:
    save_build(tmp_path / "side" / "a", "same", 0)
    save_build(tmp_path / "side" / "b", "same", 1)

    with pytest.raises(RecordError, match="build_id 'same' occurs in more than one recording"):
        load_recordings(tmp_path / "side")
