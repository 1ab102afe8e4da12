"""The explorer's logic: build an example, apply a change, rebuild, and tabulate the decisions.

`Explorer` is a plain class driven by methods, so tests and scripts use it
without a browser; `cachelab.widgets.view` only wires ipywidgets controls to it.
Every build is a real build (`cachelab.build.builder.build`) of a private copy
of the example, against a layer cache and an image store that belong to the
explorer's session, so nothing the user owns is changed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import pandas as pd

from cachelab.build.request import STRATEGIES, BuildRequest, BuildResult
from cachelab.dockerfile import load_dockerfile
from cachelab.events import ListSink
from cachelab.keys.explain import explain
from cachelab.oci.errors import InvalidReference
from cachelab.oci.reference import parse_reference
from cachelab.plan.decisions import InstructionPlan
from cachelab.record import Recording
from cachelab.study import Workspace, resolve_input
from cachelab.widgets.changes import Change, ForgetCachedLayer, MoveBaseTag
from cachelab.widgets.errors import ExplorerError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

# datasets/examples of a source checkout; pass `examples_dir` elsewhere.
EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "datasets" / "examples"

DECISION_COLUMNS = (
    "stage_index",
    "origin_stage_index",
    "stage_name",
    "stage_action",
    "line",
    "instruction",
    "decision",
    "previous_decision",
    "key_source",
    "cache_key",
    "key_changed",
    "what_changed",
)


@dataclass(frozen=True)
class ExplorerBuild:
    """One build of the session: what preceded it, the builder's result and its tables."""

    step: int
    label: str
    result: BuildResult
    recording: Recording

    @property
    def build_id(self) -> str:
        return self.result.build_id


class Explorer:
    """Build one example under one strategy, then rebuild it after each change.

    `examples_dir` contains one directory per example, each with a `Dockerfile`
    and a `context/` directory. `work_dir` is where the session's scratch
    directory is made (default: the system's temporary directory). Call `close()`
    to delete the scratch directory.
    """

    def __init__(
        self,
        examples_dir: str | Path = EXAMPLES_DIR,
        *,
        work_dir: str | Path | None = None,
    ) -> None:
        self.examples_dir = Path(examples_dir)
        self.examples = _find_examples(self.examples_dir)
        if work_dir is not None and not Path(work_dir).is_dir():
            raise ExplorerError(
                f"work_dir not found: {work_dir}",
                hint="Create that directory first, or leave out work_dir to use the system's temporary directory.",
            )
        self.scratch = Path(tempfile.mkdtemp(prefix="cachelab-explorer-", dir=work_dir))
        self.example: str | None = None
        self.strategy: str = "lookahead"
        self.builds: list[ExplorerBuild] = []
        self.workspace: Workspace | None = None
        self.image_store: Path | None = None
        self._moves = 0
        self._base_images = self.scratch / "base-images"

    def close(self) -> None:
        """Delete the scratch directory with every session's copies, caches and image stores."""
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.workspace = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def select(self, example: str | None = None, strategy: str | None = None) -> ExplorerBuild:
        """Start a new session for `example` under `strategy` and run its cold build.

        Either argument left out keeps the current choice. The new session has a
        fresh copy of the example, an empty layer cache and its own image store,
        which starts with the base images as the first session imported them.
        """
        chosen_example = example or self.example or (self.examples[0] if self.examples else None)
        chosen_strategy = strategy or self.strategy
        if chosen_example not in self.examples:
            raise ExplorerError(
                f"unknown example {chosen_example!r} in {self.examples_dir}",
                hint=f"Pick one of: {', '.join(self.examples) or 'none found'}.",
            )
        if chosen_strategy not in STRATEGIES:
            raise ExplorerError(
                f"unknown strategy {chosen_strategy!r}",
                hint=f"Pick one of: {', '.join(STRATEGIES)}.",
            )
        self.example, self.strategy = chosen_example, chosen_strategy
        self._new_session()
        built = self._build("cold")
        if self.image_store is not None and not self._base_images.exists():
            # Keep the bases as imported before any change, so later sessions copy
            # them instead of importing busybox again.
            shutil.copytree(self.image_store, self._base_images)
        return built

    def apply(self, change: Change) -> ExplorerBuild:
        """Apply `change` to the session and rebuild; start a session first if none is open."""
        if self.workspace is None or self.image_store is None:
            self.select()
        assert self.workspace is not None and self.image_store is not None
        if isinstance(change, MoveBaseTag):
            self._check_base_reference(change.reference)
            self._moves += 1
            change = MoveBaseTag(change.reference, version=self._moves)
        if isinstance(change, ForgetCachedLayer) and change.key is None:
            keys = {plan.line: plan.key for plan in _instruction_plans(self.last.result)}
            change = ForgetCachedLayer(change.line, keys.get(change.line))
        logger.info("explorer: %s", change.describe())
        change.apply(self.workspace, self.image_store)
        return self._build(change.describe())

    def rebuild(self) -> ExplorerBuild:
        """Rebuild with nothing changed."""
        if self.workspace is None:
            return self.select()
        return self._build("unchanged")

    @property
    def last(self) -> ExplorerBuild:
        """The latest build of the session."""
        if not self.builds:
            raise ExplorerError("the explorer has not built anything yet", hint="Call select() first.")
        return self.builds[-1]

    def context_files(self) -> list[str]:
        """Return the files of the session's build context, relative and sorted."""
        if self.workspace is None:
            return []
        root = self.workspace.context
        return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())

    def run_lines(self) -> list[tuple[int, str]]:
        """Return the Dockerfile line and text of every RUN of the latest build."""
        plans = _instruction_plans(self.last.result)
        return sorted({(plan.line, plan.text) for plan in plans if plan.kind == "RUN"})

    def base_references(self) -> list[str]:
        """Return the base image references of the latest build's stages, without repeats."""
        stages = self.last.result.stages
        found = [stage.base_ref for stage in stages if stage.base_kind == "image" and stage.base_ref]
        return list(dict.fromkeys(found))

    def _check_base_reference(self, reference: str) -> None:
        """Raise ExplorerError unless a stage of the latest build is based on image `reference`.

        Moving any other tag leaves every key as it was, so the rebuild would
        show no change.
        """
        bases = self.base_references()
        try:
            requested = parse_reference(reference)
        except InvalidReference as exc:
            raise ExplorerError(str(exc), hint=_base_hint(bases)) from None
        if all(parse_reference(base) != requested for base in bases):
            raise ExplorerError(
                f"no stage of {self.example} is based on image {reference!r}, so moving its tag changes nothing",
                hint=_base_hint(bases),
            )

    def find_line(self, fragment: str) -> int:
        """Return the Dockerfile line of the one instruction of the latest build whose text contains `fragment`."""
        lines = sorted({plan.line for plan in _instruction_plans(self.last.result) if fragment in plan.text})
        if len(lines) != 1:
            found = "no instruction" if not lines else f"instructions on lines {lines}"
            raise ExplorerError(
                f"{found} of {self.example} contain {fragment!r}",
                hint="Give a fragment of exactly one instruction's text.",
            )
        return lines[0]

    def keyed_lines(self) -> list[tuple[int, str]]:
        """Return the Dockerfile line and text of every keyed instruction of the latest build."""
        plans = _instruction_plans(self.last.result)
        return sorted({(plan.line, plan.text) for plan in plans if plan.key is not None})

    def build_arg_names(self) -> list[str]:
        """Return the names the Dockerfile declares with ARG, before and inside stages."""
        if self.workspace is None:
            return []
        dockerfile = load_dockerfile(self.workspace.dockerfile)
        declared = [*dockerfile.meta_args]
        for stage in dockerfile.stages:
            declared.extend(item for item in stage.instructions if item.kind == "ARG")
        names = [word.split("=", 1)[0] for item in declared for word in item.args]
        return list(dict.fromkeys(names))

    def decisions(self, build: ExplorerBuild | None = None) -> pd.DataFrame:
        """Return one row per instruction of `build` (default: the latest), with what changed.

        `stage_index` is the stage that ran the instruction and `origin_stage_index`
        the stage it is written in. They differ where a stage was squashed into its
        child, which then runs the squashed stage's instructions before its own.
        `previous_decision` and `what_changed` compare each instruction with the
        same Dockerfile line in the build before. `what_changed` is the first key
        part that differs, as `cachelab.keys.explain` names it.
        """
        chosen = build or self.last
        previous = self.builds[chosen.step - 1] if chosen.step > 0 else None
        table = decision_table(chosen, previous)
        if self.workspace is not None:
            # Name context files relative to the context, not by the session's scratch path.
            prefix = f"{self.workspace.context}/"
            table["what_changed"] = table["what_changed"].str.replace(prefix, "", regex=False)
        return table

    def timeline(self, build: ExplorerBuild | None = None, *, ax: Axes | None = None) -> Axes:
        """Draw the spans of `build` (default: the latest) with `cachelab.plots.timeline`."""
        from cachelab.plots import timeline

        chosen = build or self.last
        recording = chosen.recording
        ax = timeline(recording.spans, build_id=chosen.build_id, stages=recording.stages, ax=ax)
        ax.set_title(f"{self.example}, {self.strategy}: {chosen.label}")
        return ax

    def _new_session(self) -> None:
        if self.workspace is not None:
            # The previous session's copy, cache and image store are no longer reachable.
            shutil.rmtree(self.workspace.root.parent, ignore_errors=True)
        session = self.scratch / f"session-{uuid.uuid4().hex[:8]}"
        source = resolve_input(self.examples_dir / str(self.example))
        self.workspace = Workspace.create(source, session / "work")
        self.image_store = session / "images"
        if self._base_images.exists():
            shutil.copytree(self._base_images, self.image_store)
        self.builds = []
        self._moves = 0

    def _build(self, label: str) -> ExplorerBuild:
        from cachelab.build.builder import build

        assert self.workspace is not None and self.image_store is not None
        sink = ListSink()
        request = BuildRequest(
            dockerfile=self.workspace.dockerfile,
            context=self.workspace.context,
            strategy=self.strategy,
            build_args=dict(self.workspace.build_args),
            targets=self.workspace.targets,
            cache=self.workspace.cache_ref,
            image_store=str(self.image_store),
            work_dir=self.scratch,
            dockerfile_id=str(self.example),
            scenario="explorer",
            step=len(self.builds),
        )
        result = build(request, sink=sink, progress=False)
        recorded = ExplorerBuild(len(self.builds), label, result, Recording.from_events(sink.events))
        self.builds.append(recorded)
        return recorded


def decision_table(build: ExplorerBuild, previous: ExplorerBuild | None) -> pd.DataFrame:
    """Return the decisions of `build`, each compared with the same line of `previous`."""
    recording = build.recording
    instructions = recording.instructions
    stages = recording.stages.set_index("stage_index")
    current = {(plan.line, plan.kind): plan for plan in _instruction_plans(build.result)}
    before_plans = {(plan.line, plan.kind): plan for plan in _instruction_plans(previous.result)} if previous else {}
    before_rows = _decisions_by_line(previous.recording.instructions) if previous else {}

    rows = []
    for row in instructions.sort_values(["line", "instruction_index"]).itertuples(index=False):
        key = (int(row.line), str(row.kind))
        plan, before = current.get(key), before_plans.get(key)
        key_changed = bool(previous) and before is not None and plan is not None and before.key != plan.key
        rows.append(
            {
                "stage_index": int(row.stage_index),
                "origin_stage_index": _origin_stage(row, plan),
                "stage_name": stages["stage_name"].get(row.stage_index),
                "stage_action": stages["action"].get(row.stage_index),
                "line": int(row.line),
                "instruction": row.instruction,
                "decision": row.decision,
                "previous_decision": before_rows.get(key),
                "key_source": row.key_source,
                "cache_key": row.cache_key,
                "key_changed": key_changed,
                "what_changed": describe_change(before, plan) if previous else None,
            }
        )
    table = pd.DataFrame(rows, columns=list(DECISION_COLUMNS))
    return table.astype({"stage_name": "string", "stage_action": "string", "previous_decision": "string"})


def describe_change(before: InstructionPlan | None, after: InstructionPlan | None) -> str:
    """Return one sentence saying why the key of `after` differs from `before`, or ""."""
    if after is None:
        return ""
    if before is None:
        return "new instruction"
    if before.key == after.key:
        return ""
    if before.key is None or after.key is None:
        return "keyed in one build only"
    if before.key_source != after.key_source:
        return f"key source changed from {before.key_source} to {after.key_source}"
    if before.labelled_parts and after.labelled_parts:
        difference = explain(list(before.labelled_parts), list(after.labelled_parts))
        if difference is not None:
            return difference.describe()
    # Each key chains the instruction's own parts onto the key before it, which for
    # a stage's first instruction is the stage's seed.
    if after.index == 0:
        return "its own parts are equal, so the stage's base changed (base image digest or parent stage key)"
    return "its own parts are equal, so an earlier instruction's key changed"


def _origin_stage(row: Any, plan: InstructionPlan | None) -> int:
    """Return the stage an instruction row is written in, from the recording or else its plan."""
    recorded = getattr(row, "origin_stage_index", None)
    if recorded is not None and not pd.isna(recorded):
        return int(recorded)
    return plan.origin_stage if plan is not None else int(row.stage_index)


def _instruction_plans(result: BuildResult) -> list[InstructionPlan]:
    return [plan for stage in result.stages for plan in stage.instructions]


def _decisions_by_line(instructions: pd.DataFrame) -> dict[tuple[int, str], str]:
    return {
        (int(row.line), str(row.kind)): str(row.decision)
        for row in instructions.itertuples(index=False)
    }


def _base_hint(bases: list[str]) -> str:
    if not bases:
        return "This example has no base image to move, so pick another change."
    return f"Move a tag the example builds on: {', '.join(bases)}."


def _find_examples(directory: Path) -> list[str]:
    if not directory.is_dir():
        raise ExplorerError(
            f"examples directory not found: {directory}",
            hint="Pass examples_dir, a directory of examples with Dockerfile and context/.",
        )
    return sorted(
        path.name
        for path in directory.iterdir()
        if (path / "Dockerfile").is_file() and (path / "context").is_dir()
    )
