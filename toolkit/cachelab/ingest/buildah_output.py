"""Read `buildah bud` output into build events.

buildah (checked with v1.28) prints each Dockerfile step as `STEP n/m: TEXT`,
prefixed with `[k/K] ` in a build of several stages. With `--layers`, a step
served from the layer cache is followed by `--> Using cache <image id>`; any
other step ran. `COMMIT` starts writing the final image. Step 1 of each stage is
its FROM. After each stage buildah prints `--> ID`, a prefix of the ID of the
image the stage committed. A stage built on that stage names the image's full ID
on its FROM line, so its base is recorded as that stage.

`k` is the stage's position in the Dockerfile, also when buildah skips stages
that the target does not need, and the steps count every instruction (ENV and
ARG too). So a stage's rows have `stage_index` k - 1 and `instruction_index`
n - 2 as written, and both origin columns are set. A build without the `[k/K]`
prefix has one stage, stage 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cachelab.events import (
    BuildFinished,
    BuildStarted,
    Event,
    InstructionRecorded,
    SpanRecorded,
    StageRecorded,
)

ENGINE = "buildah"

_STEP = re.compile(r"^(?:\[(?P<stage>\d+)/(?P<stages>\d+)\] )?STEP (?P<step>\d+)/(?P<steps>\d+): (?P<text>.*)$")
_COMMIT = re.compile(r"^(?:\[\d+/\d+\] )?COMMIT\b")
_USING_CACHE = re.compile(r"^--> Using cache ([0-9a-f]{64})")
# The image a stage committed, by a prefix of its ID. A later stage built on it
# names that image's full ID on its FROM line, not the stage's name.
_STAGE_IMAGE = re.compile(r"^--> ([0-9a-f]{11,64})$")
_FROM = re.compile(r"^FROM\s+(?:--\S+\s+)*(?P<base>\S+)(?:\s+AS\s+(?P<name>\S+))?", re.IGNORECASE)


@dataclass
class TimedLine:
    """An output line and the seconds since the build started when it arrived."""

    seconds: float
    text: str


@dataclass
class BuildahStep:
    stage_index: int
    step: int
    text: str
    start_s: float
    end_s: float
    cached_image: str | None = None


@dataclass
class BuildahBuild:
    """Steps read from one build's output, and the start and end of its COMMIT if it had one."""

    steps: list[BuildahStep] = field(default_factory=list)
    commit_s: tuple[float, float] | None = None
    # Image ID prefixes by stage index, from the `--> ID` line after each stage.
    stage_images: dict[int, str] = field(default_factory=dict)


def parse_buildah_output(lines: Sequence[TimedLine], *, end_s: float) -> BuildahBuild:
    """Return the steps in `lines`. Each step lasts until the next STEP or COMMIT line."""
    build = BuildahBuild()
    current: BuildahStep | None = None
    commit_start: float | None = None
    for line in lines:
        text = line.text.rstrip()
        step = _STEP.match(text)
        if step is not None or _COMMIT.match(text):
            if current is not None:
                current.end_s = line.seconds
            if commit_start is not None and step is not None:
                build.commit_s = (commit_start, line.seconds)
                commit_start = None
        if step is not None:
            stage = int(step["stage"] or 1) - 1
            current = BuildahStep(stage, int(step["step"]), step["text"], line.seconds, end_s)
            build.steps.append(current)
        elif _COMMIT.match(text):
            current = None
            commit_start = line.seconds
        else:
            committed = _STAGE_IMAGE.match(text)
            if committed is not None and build.steps:
                build.stage_images.setdefault(build.steps[-1].stage_index, committed.group(1))
            cached = _USING_CACHE.match(text) if current is not None else None
            if cached is not None and current is not None:
                current.cached_image = cached.group(1)
    if commit_start is not None:
        build.commit_s = (commit_start, end_s)
    return build


def buildah_events(
    build: BuildahBuild,
    *,
    build_id: str,
    run_id: str,
    engine_version: str,
    dockerfile_id: str,
    started_at: datetime,
    wall_s: float,
    error: str | None,
    layers: bool = True,
    target: str | None = None,
    scenario: str | None = None,
    step: int | None = None,
    repeat: int | None = None,
) -> list[Event]:
    """Return the events of one buildah build read by `parse_buildah_output`."""
    events: list[Event] = [
        BuildStarted(
            build_id=build_id, run_id=run_id, engine=ENGINE, engine_version=engine_version,
            strategy="buildah-layers" if layers else "no-cache", profile=None, flags=None,
            dockerfile_id=dockerfile_id, target=target, started_at=started_at, scenario=scenario,
            step=step, repeat=repeat,
        )
    ]
    spans: list[SpanRecorded] = [
        SpanRecorded(build_id=build_id, span_id="build", parent_id=None, phase="build", start_s=0.0, end_s=wall_s)
    ]
    names: dict[int, str] = {}
    for stage_index in sorted({s.stage_index for s in build.steps}):
        stage_steps = [s for s in build.steps if s.stage_index == stage_index]
        first = stage_steps[0]
        base, name, kind = _stage_base(first.text if first.step == 1 else "", names, build.stage_images)
        if name is not None:
            names[stage_index] = name
        events.append(
            StageRecorded(
                build_id=build_id, stage_index=stage_index, stage_name=name, base=base,
                base_kind=kind,
                action="built", unpacked=None, final_key=None, key_a_priori=None,
            )
        )
        stage_span = f"stage-{stage_index}"
        spans.append(
            SpanRecorded(build_id=build_id, span_id=stage_span, parent_id="build", phase="stage",
                         start_s=first.start_s, end_s=stage_steps[-1].end_s, stage_index=stage_index)
        )
        for item in stage_steps:
            span_id = f"stage-{stage_index}-step-{item.step}"
            if item.step == 1:
                spans.append(SpanRecorded(build_id=build_id, span_id=span_id, parent_id=stage_span,
                                          phase="resolve-base", start_s=item.start_s, end_s=item.end_s,
                                          stage_index=stage_index))
                continue
            events.append(_instruction(item, build_id, layers))
            spans.append(SpanRecorded(build_id=build_id, span_id=span_id, parent_id=stage_span,
                                      phase="instruction", start_s=item.start_s, end_s=item.end_s,
                                      stage_index=stage_index, instruction_index=item.step - 2))
    if build.commit_s is not None:
        spans.append(SpanRecorded(build_id=build_id, span_id="commit", parent_id="build", phase="save-stage",
                                  start_s=build.commit_s[0], end_s=build.commit_s[1]))
    events.extend(spans)
    events.append(BuildFinished(build_id=build_id, wall_s=wall_s, outcome="error" if error else "ok", error=error))
    return events


def _stage_base(
    from_text: str, names: dict[int, str], stage_images: dict[int, str],
) -> tuple[str | None, str | None, str | None]:
    match = _FROM.match(from_text)
    if match is None:
        return None, None, None
    base = match["base"]
    parent = next((index for index, image in stage_images.items() if base.startswith(image)), None)
    if parent is not None:
        # The base is the image an earlier stage committed: name that stage as written.
        return names.get(parent, str(parent)), match["name"], "stage"
    if base.lower() == "scratch":
        kind = "scratch"
    elif base in names.values() or base.isdigit():
        kind = "stage"
    else:
        kind = "image"
    return base, match["name"], kind


def _instruction(step: BuildahStep, build_id: str, layers: bool) -> InstructionRecorded:
    if not layers:
        decision = "not-probed"
    elif step.cached_image is not None:
        decision = "hit"
    else:
        decision = "miss"
    return InstructionRecorded(
        build_id=build_id,
        stage_index=step.stage_index,
        instruction_index=step.step - 2,
        line=None,
        instruction=step.text,
        kind=step.text.split(None, 1)[0].upper() if step.text else "",
        # buildah finds cached layers by image history, not by a key it prints.
        cache_key=None,
        key_source=None,
        redirect_key=None,
        probed=layers,
        decision=decision,
        a_priori=None,
        # buildah runs every stage on its own, so each step runs in the stage it is written in.
        origin_stage_index=step.stage_index,
    )
