"""`compare_recordings` warns when a group pools builds of different Dockerfiles."""

from __future__ import annotations

import logging

import pytest

from cachelab.record import Recording, concat, synthetic_build
from cachelab.record.synthetic import SyntheticStage
from cachelab.stats import compare_recordings

POOLING_LOGGER = "cachelab.stats.pooling"


def _recording(*builds: list[object]) -> Recording:
    return concat([Recording.from_events(events, environment={}) for events in builds])


def _build(build_id: str, *, stages: int = 2, dockerfile_id: str | None = "app/Dockerfile") -> list[object]:
    return synthetic_build(
        build_id, stages=tuple(SyntheticStage() for _ in range(stages)), dockerfile_id=dockerfile_id, step=1
    )


def _pooling_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == POOLING_LOGGER]


def test_same_dockerfile_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    side = _recording(_build("a"), _build("b"))

    with caplog.at_level(logging.WARNING):
        compare_recordings(side, side, resamples=50)

    assert _pooling_warnings(caplog) == []


def test_stage_counts_differ_warns(caplog: pytest.LogCaptureFixture) -> None:
    old = _recording(_build("two"), _build("three", stages=3))
    new = _recording(_build("n1"), _build("n2"))

    with caplog.at_level(logging.WARNING):
        compare_recordings(old, new, resamples=50)

    warnings = _pooling_warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith("old builds of group (app/Dockerfile, warm-unchanged, 1, lookahead) likely come")
    assert "because two has 2 stages; three has 3 stages," in warnings[0]
    assert "--dockerfile-id ID" in warnings[0]


def test_instruction_texts_differ_warns(caplog: pytest.LogCaptureFixture) -> None:
    old = _recording(_build("a"), _build("b"))
    old.instructions.loc[old.instructions["build_id"] == "b", "instruction"] = "RUN other"

    with caplog.at_level(logging.WARNING):
        compare_recordings(old, _recording(_build("n1"), _build("n2")), resamples=50)

    warnings = _pooling_warnings(caplog)
    assert len(warnings) == 1
    assert "instruction 0 of stage 0 is" in warnings[0]
    assert "in build a and `RUN other` in build b" in warnings[0]


def test_missing_dockerfile_id_warns(caplog: pytest.LogCaptureFixture) -> None:
    old = _recording(_build("a", dockerfile_id=None), _build("b", dockerfile_id=None))

    with caplog.at_level(logging.WARNING):
        compare_recordings(old, _recording(_build("n1")), resamples=50)

    warnings = _pooling_warnings(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith("old builds of group (-, warm-unchanged, 1, lookahead) have no dockerfile_id")
    assert "pooled: a, b." in warnings[0]


def test_other_step_not_checked(caplog: pytest.LogCaptureFixture) -> None:
    cold = synthetic_build("cold", stages=(SyntheticStage(),), step=0)
    old = _recording(_build("a"), _build("b"), cold, synthetic_build("cold2", step=0, stages=(SyntheticStage(),) * 3))

    with caplog.at_level(logging.WARNING):
        compare_recordings(old, old, step=1, resamples=50)

    assert _pooling_warnings(caplog) == []
