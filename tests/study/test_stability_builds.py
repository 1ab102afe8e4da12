"""Key stability columns of real scenario runs on datasets/examples.

Each test runs `study` with the real builder (RUN in bubblewrap, busybox from
the session's image store) and asserts on the stability columns it fills.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest

from cachelab.oci.busybox import busybox_rootfs
from cachelab.oci.importer import import_rootfs
from cachelab.record import Recording
from cachelab.study import (
    ClearCache,
    MakeRunNondeterministic,
    MoveBaseTag,
    Scenario,
    SetCacheTTL,
    Step,
    stability_summary,
    study,
)
from tests.fixtures.paths import REPO_ROOT
from tests.fixtures.registry import RegistryServer

EXAMPLES = REPO_ROOT / "datasets" / "examples"
STRATEGIES = ["per-stage", "lookahead", "graph"]

pytestmark = pytest.mark.sandbox


def instructions_at(recording: Recording, strategy: str, step: int) -> pd.DataFrame:
    builds = recording.builds[["build_id", "strategy", "step"]]
    rows = recording.instructions.merge(builds, on="build_id")
    chosen = rows[(rows["strategy"] == strategy) & (rows["step"] == step)]
    return chosen.set_index(["stage_index", "instruction_index"]).sort_index()


def changed(rows: pd.DataFrame) -> list[tuple[int, int]]:
    return [position for position, value in rows["key_changed"].items() if pd.notna(value) and value]


def test_edit_changes_exactly_dependent_keys(image_store: Path) -> None:
    recording = study([EXAMPLES / "fan-in"], ["edit:config.ini"], STRATEGIES, 1,
                      image_store=str(image_store), progress=False)

    for strategy in STRATEGIES:
        rows = instructions_at(recording, strategy, 1)
        # Stage 1 (`config`) copies config.ini; the final stage copies its output
        # second, so that COPY and everything after it change.
        assert changed(rows) == [(1, 0), (1, 1), (3, 1), (3, 2), (3, 3)], strategy
        assert rows["key_changed"].notna().all(), strategy
        assert rows.loc[(1, 0), "key_change_part"] == "file:config.ini", strategy
        assert rows.loc[(1, 1), "key_change_part"] == "parent", strategy
        assert rows.loc[(3, 2), "key_change_part"] == "parent", strategy
        assert rows.loc[changed(rows), "key_change_expected"].tolist() == [True] * 5, strategy
    copy_part = {strategy: instructions_at(recording, strategy, 1).loc[(3, 1), "key_change_part"] for strategy in STRATEGIES}
    assert copy_part == {
        "per-stage": "file:/kaniko/deps/1/config.ini",
        "lookahead": "file:/kaniko/deps/1/config.ini",
        "graph": "inferred",
    }
    stages = recording.stages.merge(recording.builds[["build_id", "strategy", "step"]], on="build_id")
    warm = stages[(stages["step"] == 1) & (stages["strategy"] == "graph")].set_index("stage_index")
    assert warm["key_changed"].tolist() == [False, True, False, True]
    assert warm.loc[3, "key_change_expected"]


def test_rerun_of_nondeterministic_stage_is_unexpected(image_store: Path) -> None:
    rerun = Scenario("rerun", (Step(label="cold"), Step((ClearCache(),), label="cache cleared")))
    recording = study([EXAMPLES / "nondeterministic"], [rerun], ["per-stage", "graph"], 1,
                      image_store=str(image_store), progress=False)

    per_stage = instructions_at(recording, "per-stage", 1)
    assert changed(per_stage) == [(1, 0), (1, 1)]
    assert per_stage.loc[(1, 0), "key_change_part"] == "file:/kaniko/deps/0/built-at"
    assert not per_stage.loc[(1, 0), "key_change_expected"]
    assert not per_stage.loc[(1, 1), "key_change_expected"]
    graph = instructions_at(recording, "graph", 1)
    assert changed(graph) == []
    summary = stability_summary(recording).set_index("strategy")
    assert summary.loc["per-stage", "unexpected_change_rate"] == pytest.approx(0.5)
    assert summary.loc["graph", "unexpected_change_rate"] == pytest.approx(0.0)
    # The RUN wrote new random bytes, so neither rebuild reproduces the cold image.
    assert recording.builds.loc[recording.builds["step"] == 1, "transparent"].tolist() == [False, False]


def test_warm_unchanged_is_stable_and_transparent(image_store: Path, tmp_path: Path) -> None:
    recording = study([EXAMPLES / "two-stage"], ["warm-unchanged"], STRATEGIES, 1,
                      out_dir=tmp_path / "out", image_store=str(image_store), progress=False)

    for strategy in STRATEGIES:
        rows = instructions_at(recording, strategy, 1)
        assert not rows["key_changed"].any(), strategy
        assert rows["key_change_part"].isna().all(), strategy
    warm = recording.builds[recording.builds["step"] == 1].set_index("strategy")
    assert warm["transparent"].to_dict() == {strategy: True for strategy in STRATEGIES}
    # The saved study carries the columns too.
    saved = Recording.load(tmp_path / "out")
    assert saved.builds["transparent"].notna().sum() == 3
    assert saved.instructions["key_changed"].notna().any()


def test_moved_base_changes_every_key_as_expected(image_store: Path) -> None:
    move = Scenario("move-base", (Step(label="cold"), Step((MoveBaseTag("busybox", content="v2\n"),))))
    recording = study([EXAMPLES / "two-stage"], [move], ["per-stage", "graph"], 1,
                      image_store=str(image_store), progress=False)

    for strategy in ("per-stage", "graph"):
        rows = instructions_at(recording, strategy, 1)
        assert rows["key_changed"].all(), strategy
        assert rows["key_change_expected"].all(), strategy
        assert rows.loc[(0, 0), "key_change_part"] == "base", strategy
    builds = recording.builds[recording.builds["step"] == 1]
    assert builds["transparent"].isna().all()


def test_expired_nondeterministic_run_under_ttl(image_store: Path) -> None:
    # Step 1 makes `docs`'s RUN write random bytes into /docs.txt, step 2 expires
    # every cache entry, so that RUN executes again with other output.
    flaky = Scenario("flaky-docs", (
        Step(label="cold"),
        Step((MakeRunNondeterministic(line=6, path="/docs.txt"),)),
        Step((SetCacheTTL(0),)),
    ))
    recording = study([EXAMPLES / "fan-in"], [flaky], ["per-stage", "graph"], 1,
                      image_store=str(image_store), progress=False)

    edited = instructions_at(recording, "per-stage", 1)
    assert edited.loc[(0, 1), "key_change_part"] == "instruction"
    assert edited.loc[(0, 1), "key_change_expected"]
    expired = instructions_at(recording, "per-stage", 2)
    assert changed(expired) == [(3, 0), (3, 1), (3, 2), (3, 3)]
    assert expired.loc[(3, 0), "key_change_part"] == "file:/kaniko/deps/0/docs.txt"
    assert not expired.loc[(3, 0), "key_change_expected"]
    graph = instructions_at(recording, "graph", 2)
    assert changed(graph) == []
    # Every entry expired: instructions that hit at step 1 miss at step 2.
    assert graph.loc[(2, 0), "decision"] == "miss"
    assert graph.loc[(2, 0), "decision_flipped"]


def test_moved_registry_tag_changes_base(image_store: Path, registry: RegistryServer, tmp_path: Path) -> None:
    reference = f"{registry.address}/base-{uuid.uuid4().hex[:8]}:1"
    import_rootfs(busybox_rootfs(tmp_path / "rootfs"), reference)
    example = tmp_path / "example"
    (example / "context").mkdir(parents=True)
    (example / "Dockerfile").write_text(f"FROM {reference} AS base\nRUN touch /x\n\nFROM base\nRUN ls /x\n")
    move = Scenario("move-registry", (
        Step(label="cold"),
        Step((MoveBaseTag(reference, content="v2\n", where="registry"),)),
    ))
    recording = study([example], [move], ["per-stage", "graph"], 1, image_store=str(image_store), progress=False)

    assert recording.builds["outcome"].tolist() == ["ok"] * 4
    for strategy in ("per-stage", "graph"):
        rows = instructions_at(recording, strategy, 1)
        assert rows["key_changed"].all(), strategy
        assert rows["key_change_expected"].all(), strategy
        first = rows.iloc[0]
        assert first["key_change_part"] == "base", strategy
        assert (rows["decision"] == "hit").sum() == 0, strategy
