"""`study`: the matrix runner, its resume after an interruption and failed cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cachelab.build.builder import build
from cachelab.study.matrix import CELLS_DIR, cell_status, study
from tests.fixtures.paths import REPO_ROOT

EXAMPLES = REPO_ROOT / "datasets" / "examples"

pytestmark = pytest.mark.sandbox


class Interrupted(Exception):
    """Raised by `CountingBuilder` to cut a study short, as Ctrl-C or a crash would."""


class CountingBuilder:
    """The real builder, counting its calls and raising `Interrupted` on call `fail_at`."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls = 0
        self.fail_at = fail_at
        self.requests: list[Any] = []

    def __call__(self, request: Any, **options: Any) -> Any:
        self.calls += 1
        if self.calls == self.fail_at:
            raise Interrupted(f"interrupted at build {self.calls}")
        self.requests.append(request)
        return build(request, **options)


def test_study_resumes_after_interruption(image_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "study"
    arguments: dict[str, Any] = {
        "dockerfiles": [EXAMPLES / "two-stage"],
        "scenarios": ["warm-unchanged"],
        "strategies": ["per-stage", "lookahead"],
        "repeats": 1,
        "out_dir": out,
        "image_store": str(image_store),
        "progress": False,
    }
    # Builds 1 and 2 are the per-stage cell; build 4 is the lookahead cell's warm step.
    first = CountingBuilder(fail_at=4)
    with pytest.raises(Interrupted):
        study(**arguments, builder=first)
    finished = cell_status(out)
    assert [status["strategy"] for status in finished.values()] == ["per-stage"]
    assert not list((out / CELLS_DIR).glob(".*")), "a partial cell directory was left behind"

    second = CountingBuilder()
    recording = study(**arguments, builder=second)
    assert second.calls == 2
    assert {request.strategy for request in second.requests} == {"lookahead"}

    builds = recording.builds
    assert len(builds) == 4
    assert (builds["outcome"] == "ok").all()
    assert builds["run_id"].nunique() == 1
    assert sorted(zip(builds["strategy"], builds["step"])) == [
        ("lookahead", 0), ("lookahead", 1), ("per-stage", 0), ("per-stage", 1),
    ]
    assert (out / "builds.parquet").is_file()

    third = CountingBuilder()
    again = study(**arguments, builder=third)
    assert third.calls == 0
    assert sorted(again.builds["build_id"]) == sorted(builds["build_id"])


def test_study_records_failed_cell(image_store: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken" / "Dockerfile"
    broken.parent.mkdir()
    broken.write_text("FROM busybox\nRUN echo about to fail && false\n")
    recording = study(
        [broken, EXAMPLES / "two-stage"],
        strategies=["lookahead"],
        out_dir=tmp_path / "study",
        image_store=str(image_store),
        progress=False,
    )
    statuses = list(cell_status(tmp_path / "study").values())
    outcomes = {status["dockerfile_id"]: status["outcome"] for status in statuses}
    assert outcomes == {str(broken): "error", str(EXAMPLES / "two-stage"): "ok"}

    builds = recording.builds
    failed = builds[builds["dockerfile_id"] == str(broken)]
    assert list(failed["outcome"]) == ["error"]
    error = str(failed["error"].iloc[0])
    assert "Dockerfile:2: `RUN " in error
    assert "exit code 1" in error
    assert (builds[builds["dockerfile_id"] != str(broken)]["outcome"] == "ok").all()


def test_study_reruns_cells_for_new_build_args(image_store: Path, tmp_path: Path) -> None:
    dockerfile = tmp_path / "app" / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text("FROM busybox\nARG VERSION=1\nRUN echo $VERSION > /version\n")
    arguments: dict[str, Any] = {
        "strategies": ["lookahead"],
        "out_dir": tmp_path / "study",
        "image_store": str(image_store),
        "progress": False,
    }
    first = CountingBuilder()
    study([dockerfile], build_args={"VERSION": "1"}, builder=first, **arguments)
    assert first.calls == 2

    same = CountingBuilder()
    study([dockerfile], build_args={"VERSION": "1"}, builder=same, **arguments)
    assert same.calls == 0

    changed = CountingBuilder()
    recording = study([dockerfile], build_args={"VERSION": "2"}, builder=changed, **arguments)
    assert changed.calls == 2
    assert all(request.build_args == {"VERSION": "2"} for request in changed.requests)
    assert len(recording.builds) == 2
