"""PlannerSetup: planners of one Dockerfile share stage selections and memoised key parts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cachelab.dockerfile.parse import parse_dockerfile
from cachelab.keys.flags import profile
from cachelab.model.standin import StandInImageSource
from cachelab.plan.decisions import StagePlan
from cachelab.plan.keying import CommandParts, parts_options
from cachelab.plan.memory import MemoryCache
from cachelab.plan.planner import Planner
from cachelab.plan.setup import PlannerSetup

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

FAN_IN = """\
ARG VERSION=1.2
FROM alpine:3.20 AS tools
ENV PATH=/opt/tools/bin:$PATH
ARG VERSION
RUN echo "tools $VERSION" > /tools.txt
FROM alpine:3.20 AS app
ARG MODE=release
ENV MODE=$MODE APP=/srv/app
WORKDIR $APP
COPY src/ ./src/
RUN echo build $MODE
FROM alpine:3.20
COPY --from=tools /tools.txt /opt/
COPY --from=app /srv/app /srv/app
ENV MODE=final
RUN echo done
"""

PROFILES = ("kaniko", "kaniko-copy", "kaniko-lookahead")


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    return tmp_path


def planner_for(
    dockerfile, name: str, context: Path, cache: MemoryCache, setup: PlannerSetup | None,  # type: ignore[no-untyped-def]
    images: StandInImageSource,
) -> Planner:
    return Planner(
        dockerfile, options=profile(name), context_dir=context, cache=cache, images=images, now=NOW,
        missing_source="placeholder", setup=setup,
    )


def decisions(plans: list[StagePlan]) -> list[tuple[object, ...]]:
    return [
        (
            plan.index, plan.action, plan.final_key, plan.key_a_priori, tuple(plan.key_blockers),
            tuple((item.kind, item.key, item.decision, item.parts, item.a_priori) for item in plan.instructions),
        )
        for plan in plans
    ]


def build_twice(
    name: str, context: Path, setup_for: PlannerSetup | None, dockerfile,  # type: ignore[no-untyped-def]
    images: StandInImageSource,
) -> list[list[tuple[object, ...]]]:
    # A cold build that fills the cache, then the same build again, as the model runs them.
    cache = MemoryCache()
    results = []
    for _ in range(2):
        planner = planner_for(dockerfile, name, context, cache, setup_for, images)
        plans = planner.dry_run()
        for plan in plans:
            for item in plan.instructions:
                if item.decision == "miss" and item.key is not None and item.push_layer:
                    cache.put_layer_bytes(item.key, b"", created_by=item.text, created=NOW)
        results.append(decisions(plans))
    return results


@pytest.mark.parametrize("name", PROFILES)
def test_shared_setup_keeps_decisions(name, context):
    dockerfile = parse_dockerfile(FAN_IN)
    images = StandInImageSource()

    alone = build_twice(name, context, None, dockerfile, images)
    shared = build_twice(name, context, PlannerSetup(dockerfile), dockerfile, images)

    assert shared == alone
    assert any(plan[2] is not None for plan in alone[0])
    warm_decisions = [item[2] for plan in alone[1] for item in plan[5]]
    assert "hit" in warm_decisions


def test_shared_setup_across_profiles(context):
    dockerfile = parse_dockerfile(FAN_IN)
    images = StandInImageSource()
    setup = PlannerSetup(dockerfile)

    for name in PROFILES:
        alone = planner_for(dockerfile, name, context, MemoryCache(), None, images).plan()
        shared = planner_for(dockerfile, name, context, MemoryCache(), setup, images).plan()
        assert decisions(shared) == decisions(alone), name


def test_setup_shares_one_selection(context):
    dockerfile = parse_dockerfile(FAN_IN)
    images = StandInImageSource()
    setup = PlannerSetup(dockerfile)

    first = planner_for(dockerfile, "kaniko", context, MemoryCache(), setup, images)
    second = planner_for(dockerfile, "kaniko-lookahead", context, MemoryCache(), setup, images)

    assert second.selection is first.selection


def test_setup_selection_per_image_source(context):
    dockerfile = parse_dockerfile(FAN_IN)
    setup = PlannerSetup(dockerfile)

    first = planner_for(dockerfile, "kaniko", context, MemoryCache(), setup, StandInImageSource())
    second = planner_for(dockerfile, "kaniko", context, MemoryCache(), setup, StandInImageSource())

    assert second.selection is not first.selection


def test_setup_keyers_share_memo(context):
    dockerfile = parse_dockerfile(FAN_IN)
    images = StandInImageSource()
    setup = PlannerSetup(dockerfile)

    copy_keyer = planner_for(dockerfile, "kaniko-copy", context, MemoryCache(), setup, images).keyer
    lookahead_keyer = planner_for(dockerfile, "kaniko-lookahead", context, MemoryCache(), setup, images).keyer

    assert copy_keyer.options == profile("kaniko-copy")
    assert lookahead_keyer.options == profile("kaniko-lookahead")
    assert lookahead_keyer._memo is copy_keyer._memo
    assert lookahead_keyer.context is copy_keyer.context


def parts_around_change(context: Path, setup: PlannerSetup | None, dockerfile) -> tuple[CommandParts, CommandParts]:  # type: ignore[no-untyped-def]
    """Return the parts of stage 1's COPY before and after its source file changes."""
    planner = planner_for(dockerfile, "kaniko-copy", context, MemoryCache(), setup, StandInImageSource())
    app = planner.selection.by_index(1)
    copy = next(command.instruction for command in app.commands if command.kind == "COPY")
    environment = planner.keyer.stage_environment(["PATH=/bin"])

    first = planner.keyer.parts(copy, environment, source=None)
    (context / "src" / "main.c").write_text("changed\n")
    return first, planner.keyer.parts(copy, environment, source=None)


def test_memoised_parts_hash_once(context):
    dockerfile = parse_dockerfile(FAN_IN)

    first, second = parts_around_change(context, PlannerSetup(dockerfile), dockerfile)

    assert first.files
    assert first.files_hashed > 0
    # The memo returns the first result: a setup must not outlive unchanged files.
    assert second is first


def test_unshared_parts_rehash(context):
    dockerfile = parse_dockerfile(FAN_IN)

    first, second = parts_around_change(context, None, dockerfile)

    assert second.all != first.all


def test_keyer_with_options_rejects_other_parts(context):
    dockerfile = parse_dockerfile(FAN_IN)
    setup = PlannerSetup(dockerfile)
    keyer = planner_for(dockerfile, "kaniko", context, MemoryCache(), setup, StandInImageSource()).keyer

    with pytest.raises(ValueError, match="key parts read"):
        keyer.with_options(profile("kaniko").with_changes(resolve_cache_key=True))


def test_parts_options_ignore_scheduling():
    assert parts_options(profile("kaniko")) == parts_options(profile("kaniko-lookahead"))
    assert parts_options(profile("kaniko")) != parts_options(profile("kaniko").with_changes(run_mount_bind=False))


def test_setup_rejects_other_dockerfile(context):
    setup = PlannerSetup(parse_dockerfile(FAN_IN))

    with pytest.raises(ValueError, match="one setup per Dockerfile"):
        planner_for(parse_dockerfile(FAN_IN), "kaniko", context, MemoryCache(), setup, StandInImageSource())
