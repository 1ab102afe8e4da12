"""Real buildah builds of a tiny busybox Dockerfile, cold then warm, with no network.

The base image is the project's busybox rootfs, imported into an OCI layout and
pulled into a buildah storage of the test's own.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cachelab.ingest.buildah import BuildahSetup, run_buildah_build
from cachelab.ingest.buildah_output import TimedLine, buildah_events, parse_buildah_output
from cachelab.ingest.errors import EngineRunError
from cachelab.oci.importer import import_rootfs
from cachelab.record import Recording
from tests.fixtures.registry import RegistryServer

requires_buildah = pytest.mark.skipif(shutil.which("buildah") is None, reason="buildah is not installed")

BASE = "localhost/cachelab/busybox:1"
DOCKERFILE = f"""\
FROM {BASE} AS one
RUN echo one > /one

FROM {BASE}
COPY --from=one /one /two
COPY hello.txt /hello.txt
ENV GREETING=hello
"""


@pytest.fixture(scope="module")
def setup(busybox_rootfs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> BuildahSetup:
    storage = tmp_path_factory.mktemp("buildah")
    buildah = BuildahSetup(root=storage / "root", runroot=storage / "runroot")
    layout = storage / "layout"
    import_rootfs(busybox_rootfs_dir, f"oci:{layout}:busybox")
    buildah.pull_layout(f"oci:{layout}:busybox", BASE)
    return buildah


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "hello.txt").write_text("hello\n")
    return tmp_path


@requires_buildah
@pytest.mark.sandbox
def test_buildah_cold_then_warm(setup: BuildahSetup, context: Path) -> None:
    cold = run_buildah_build(context / "Dockerfile", context, setup=setup, tag="cachelab-test:cold")
    warm = run_buildah_build(context / "Dockerfile", context, setup=setup, tag="cachelab-test:warm")

    for recording in (cold, warm):
        build = recording.builds.iloc[0]
        assert build["engine"] == "buildah"
        assert build["outcome"] == "ok", build["error"]
        assert build["wall_s"] > 0
        assert recording.instructions["kind"].tolist() == ["RUN", "COPY", "COPY", "ENV"]
    assert cold.instructions["decision"].tolist() == ["miss"] * 4
    assert warm.instructions["decision"].tolist() == ["hit"] * 4
    assert warm.builds.iloc[0]["cache_hits"] == 4


@requires_buildah
@pytest.mark.sandbox
def test_buildah_stages_and_spans(setup: BuildahSetup, context: Path) -> None:
    recording = run_buildah_build(context / "Dockerfile", context, setup=setup)
    stages = recording.stages

    assert stages["stage_name"].tolist()[0] == "one"
    assert stages["base"].tolist() == [BASE, BASE]
    assert stages["base_kind"].tolist() == ["image", "image"]
    assert (stages["wall_s"] > 0).all()
    assert recording.instructions["wall_s"].notna().all()


@requires_buildah
@pytest.mark.sandbox
def test_buildah_changed_file_misses_from_there(setup: BuildahSetup, context: Path) -> None:
    run_buildah_build(context / "Dockerfile", context, setup=setup)
    (context / "hello.txt").write_text("changed\n")

    changed = run_buildah_build(context / "Dockerfile", context, setup=setup)

    assert changed.instructions["decision"].tolist() == ["hit", "hit", "miss", "miss"]


@requires_buildah
@pytest.mark.sandbox
def test_buildah_failure_recorded(setup: BuildahSetup, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE}\nRUN exit 3\n")

    recording = run_buildah_build(tmp_path / "Dockerfile", tmp_path, setup=setup)
    build = recording.builds.iloc[0]

    assert build["outcome"] == "error"
    assert "exited with status" in build["error"]
    assert recording.instructions["decision"].tolist() == ["miss"]


@requires_buildah
@pytest.mark.sandbox
@pytest.mark.registry
def test_buildah_cache_repository(
    busybox_rootfs_dir: Path, registry: RegistryServer, context: Path, tmp_path: Path
) -> None:
    # A fresh storage, so the second build can only hit through the registry.
    layout = tmp_path / "layout"
    import_rootfs(busybox_rootfs_dir, f"oci:{layout}:busybox")
    repository = f"{registry.address}/buildah/cache"
    first = BuildahSetup(root=tmp_path / "first" / "root", runroot=tmp_path / "first" / "runroot")
    second = BuildahSetup(root=tmp_path / "second" / "root", runroot=tmp_path / "second" / "runroot")
    for buildah in (first, second):
        buildah.pull_layout(f"oci:{layout}:busybox", BASE)

    cold = run_buildah_build(context / "Dockerfile", context, setup=first, cache_repository=repository,
                             tls_verify=False)
    remote = run_buildah_build(context / "Dockerfile", context, setup=second, cache_repository=repository,
                               tls_verify=False)

    assert cold.builds.iloc[0]["outcome"] == "ok", cold.builds.iloc[0]["error"]
    assert cold.instructions["decision"].tolist() == ["miss"] * 4
    assert remote.builds.iloc[0]["outcome"] == "ok", remote.builds.iloc[0]["error"]
    assert "hit" in remote.instructions["decision"].tolist()


def test_buildah_output_multistage_parse() -> None:
    output = [
        "[1/2] STEP 1/2: FROM localhost/busybox:1 AS one",
        "[1/2] STEP 2/2: RUN echo one > /one",
        "--> Using cache " + "ab" * 32,
        "--> abababababa",
        "[2/2] STEP 1/2: FROM localhost/busybox:1",
        "[2/2] STEP 2/2: ENV A=1",
        "[2/2] COMMIT",
        "--> 0123456789a",
    ]
    build = parse_buildah_output([TimedLine(float(i), text) for i, text in enumerate(output)], end_s=9.0)

    assert [(s.stage_index, s.step, s.cached_image is not None) for s in build.steps] == [
        (0, 1, False), (0, 2, True), (1, 1, False), (1, 2, False),
    ]
    assert build.steps[1].end_s == 4.0
    assert build.steps[3].end_s == 6.0
    assert build.commit_s == (6.0, 9.0)


def test_buildah_missing_binary_named(tmp_path: Path) -> None:
    setup = BuildahSetup(root=tmp_path / "root", runroot=tmp_path / "runroot", executable="no-such-buildah")

    with pytest.raises(EngineRunError, match="no-such-buildah not found"):
        setup.version()


def _events_of(output: list[str]) -> list[object]:
    build = parse_buildah_output([TimedLine(float(i), text) for i, text in enumerate(output)], end_s=9.0)
    return buildah_events(
        build, build_id="b", run_id="r", engine_version="1.28.2", dockerfile_id="Dockerfile",
        started_at=datetime(2026, 1, 1, tzinfo=UTC), wall_s=9.0, error=None,
    )


def test_buildah_origins_after_skipped_stage() -> None:
    # buildah skips stage 1 of 3, which the last stage does not need, and keeps the written positions.
    output = [
        "[2/3] STEP 1/3: FROM localhost/busybox:1 AS tools",
        "[2/3] STEP 2/3: ENV A=1",
        "[2/3] STEP 3/3: RUN touch /tool",
        "[3/3] STEP 1/2: FROM localhost/busybox:1",
        "[3/3] STEP 2/2: COPY --from=tools /tool /tool",
        "[3/3] COMMIT",
    ]
    instructions = Recording.from_events(_events_of(output), environment={}).instructions  # type: ignore[arg-type]
    rows = list(instructions[["stage_index", "instruction_index", "origin_stage_index", "origin_instruction_index"]]
                .itertuples(index=False, name=None))

    assert rows == [(1, 0, 1, 0), (1, 1, 1, 1), (2, 0, 2, 0)]


def test_buildah_single_stage_origins() -> None:
    output = ["STEP 1/3: FROM localhost/busybox:1", "STEP 2/3: WORKDIR /app", "STEP 3/3: RUN true", "COMMIT"]
    instructions = Recording.from_events(_events_of(output), environment={}).instructions  # type: ignore[arg-type]

    assert instructions["origin_stage_index"].tolist() == [0, 0]
    assert instructions["origin_instruction_index"].tolist() == [0, 1]


@requires_buildah
@pytest.mark.sandbox
def test_buildah_origins_with_skipped_stage(setup: BuildahSetup, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE} AS unused\nRUN touch /unused\n\n"
        f"FROM {BASE} AS one\nENV A=1\nRUN touch /one\n\n"
        f"FROM {BASE}\nCOPY --from=one /one /two\n"
    )

    recording = run_buildah_build(tmp_path / "Dockerfile", tmp_path, setup=setup)
    instructions = recording.instructions

    assert recording.builds.iloc[0]["outcome"] == "ok", recording.builds.iloc[0]["error"]
    assert recording.stages["stage_index"].tolist() == [1, 2]
    assert instructions["kind"].tolist() == ["ENV", "RUN", "COPY"]
    assert instructions["origin_stage_index"].tolist() == [1, 1, 2]
    assert instructions["origin_instruction_index"].tolist() == [0, 1, 0]


def test_buildah_stage_base_from_image_id() -> None:
    # Output of buildah 1.28.2 for stages built on earlier stages, one skipped (3/4).
    output = [
        "[1/4] STEP 1/2: FROM localhost/busybox:1 AS base",
        "[1/4] STEP 2/2: RUN touch /b",
        "--> 16078084eda",
        "[2/4] STEP 1/2: FROM 16078084eda373b81350f0936ed8fcbc3c56e1466ed1ce074a05cc8687acab1e",
        "[2/4] STEP 2/2: RUN ls /b",
        "/b",
        "--> ad43dda4583",
        "[4/4] STEP 1/2: FROM ad43dda45831aca0434615a839935354dd931aadd4d6c9ab460e9d6109043419",
        "[4/4] STEP 2/2: RUN true",
        "[4/4] COMMIT",
        "--> 85fdc88a38e",
        "85fdc88a38e6d5584d4789f401bddc407f32c26e61fbd8d9267ddfa7545eb38a",
    ]
    stages = Recording.from_events(_events_of(output), environment={}).stages  # type: ignore[arg-type]
    rows = list(stages[["stage_index", "base", "base_kind"]].itertuples(index=False, name=None))

    assert rows == [(0, "localhost/busybox:1", "image"), (1, "base", "stage"), (3, "1", "stage")]
