"""Twins of Dockerfiles, built by the real builder, checked against the model's decisions."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cachelab.corpus.fetch import fetch_corpus
from cachelab.corpus.manifest import CorpusEntry, read_corpus
from cachelab.corpus.study import Study, StudySettings
from cachelab.corpus.study_report import savings_direction, warm_summary
from cachelab.dockerfile import parse_dockerfile, plan_stages
from cachelab.model.catalog import BaseImageCatalog
from cachelab.model.costs import CostModel, calibrate
from cachelab.model.errors import CalibrationError
from cachelab.oci.busybox import DEFAULT_BUSYBOX
from cachelab.record import Recording
from cachelab.replay import (
    Replayer,
    ReplaySettings,
    TwinWriter,
    multistage_ids,
    sample_ids,
    twin_reference,
)
from tests.fixtures.paths import REPO_ROOT

MB = 1_000_000
CATALOG = BaseImageCatalog.from_document({
    "default_compressed_bytes": 10 * MB,
    "images": [{"repository": "library/golang", "variant": None, "compressed_bytes": 300 * MB, "source": "estimate"}],
})

FAN_IN = """\
ARG GO=1.22
FROM golang:${GO} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
ADD https://example.org/tool.tar.gz /opt/
USER nobody
RUN go build -o /out/app ./...

FROM alpine:3.20 AS assets
COPY web/ /web

FROM scratch
COPY --from=build /out/app /app
COPY --from=assets /web /srv
COPY --from=example.org/tools:1 /bin/tool /bin/tool
ENTRYPOINT ["/app"]
"""

needs_sandbox = pytest.mark.skipif(
    shutil.which("bwrap") is None or not os.path.isfile(DEFAULT_BUSYBOX),
    reason="needs bubblewrap and Debian's busybox-static",
)


def graph_of(text: str):
    dockerfile = parse_dockerfile(text)
    return dockerfile, plan_stages(dockerfile, platform="linux/amd64")


def test_twin_keeps_stage_graph(tmp_path):
    dockerfile, graph = graph_of(FAN_IN)

    twin = TwinWriter(catalog=CATALOG, costs=CostModel(), scale=1000).write(dockerfile, graph, tmp_path)
    twin_dockerfile, twin_graph = graph_of(twin.dockerfile.read_text())

    assert len(twin_graph.stages) == len(graph.stages)
    for original, copy in zip(graph.stages, twin_graph.stages, strict=True):
        assert copy.base_kind == original.base_kind
        assert copy.base_stage == original.base_stage
        assert [ref.stage for ref in copy.sources] == [ref.stage for ref in original.sources]
        assert [ref.image is None for ref in copy.sources] == [ref.image is None for ref in original.sources]
    kinds = [[i.kind for i in stage.instructions] for stage in dockerfile.stages]
    assert [[i.kind for i in stage.instructions] for stage in twin_dockerfile.stages] == kinds


def test_twin_sizes_bases_and_context(tmp_path):
    dockerfile, graph = graph_of(FAN_IN)

    twin = TwinWriter(catalog=CATALOG, costs=CostModel(copy_context_bytes=30_000), scale=1000).write(
        dockerfile, graph, tmp_path,
    )

    sizes = {base.original: base.filler_bytes for base in twin.bases}
    assert sizes == {"golang:1.22": 300_000, "alpine:3.20": 10_000, "example.org/tools:1": 10_000}
    assert twin_reference("golang:1.22") in twin.dockerfile.read_text()
    copied = sorted(path for path in twin.context.rglob("*") if path.is_file())
    # Two context COPY/ADD in stage 0 (the remote ADD too), one in stage 1, three files each.
    assert len(copied) == 9
    assert all(path.stat().st_size == 10 for path in copied)
    assert "USER root" in twin.dockerfile.read_text()


EMPTY_SCRATCH_SOURCE = """\
FROM scratch AS empty
FROM empty AS chosen
FROM alpine:3.20
COPY --from=chosen / /usr/bin/
"""


def test_twin_copies_root_of_empty_scratch_stage(tmp_path):
    dockerfile, graph = graph_of(EMPTY_SCRATCH_SOURCE)

    twin = TwinWriter(catalog=CATALOG, costs=CostModel(), scale=1000).write(dockerfile, graph, tmp_path)

    assert "COPY --from=s1 / /twin/f2-0/" in twin.dockerfile.read_text().splitlines()


@needs_sandbox
@pytest.mark.sandbox
def test_replay_empty_scratch_source(tmp_path):
    entry = CorpusEntry(id="empty-scratch", text=EMPTY_SCRATCH_SOURCE)

    replay, _ = replay_and_model([entry], tmp_path / "work")

    assert set(replay.builds["outcome"]) == {"ok"}


def test_sample_ids_fixed_seed():
    ids = [f"file-{number}" for number in range(50)]

    first = sample_ids(ids, 5)

    assert first == sample_ids(ids, 5)
    assert len(first) == 5
    assert first == [identifier for identifier in ids if identifier in first]
    assert sample_ids(ids, None) == ids


def replay_and_model(entries: list[CorpusEntry], work: Path) -> tuple[Recording, Recording]:
    """Replay `entries` and model them; return both recordings."""
    settings = ReplaySettings(work_dir=work, scale=1000)
    replayed = []
    with Replayer(settings) as replayer:
        for entry in entries:
            result = replayer.replay(entry.id, entry.read_bytes().decode("utf-8"))
            replayed.extend(result.events)
            assert result.errors == [], entry.id
    modelled = []
    with Study(StudySettings(record_events=True, run_id="model")) as study:
        for entry in entries:
            modelled.extend(study.study_text(entry.read_bytes().decode("utf-8"), entry.id).events)
    return Recording.from_events(replayed, environment={}), Recording.from_events(modelled, environment={})


def warm_actions(recording: Recording) -> dict[tuple[str, str, int], str]:
    """Return each stage's action in the warm rebuilds, by Dockerfile, strategy and stage index."""
    warm = recording.builds[recording.builds["step"] == 1][["build_id", "dockerfile_id", "strategy"]]
    stages = recording.stages.merge(warm, on="build_id")
    return stages.set_index(["dockerfile_id", "strategy", "stage_index"])["action"].to_dict()


def assert_replay_matches_model(replay: Recording, model: Recording, ids: list[str]) -> None:
    assert set(replay.builds["outcome"]) == {"ok"}
    assert len(replay.builds) == 4 * len(ids)
    # The same Planner decides both, so every stage's action on the warm rebuild is equal.
    assert warm_actions(replay) == warm_actions(model)

    summary = pd.concat(
        [warm_summary(model.builds, mode="model"), warm_summary(replay.builds, mode="replay")],
        ignore_index=True,
    )
    direction = savings_direction(summary).set_index(["dockerfile_id", "mode"])
    for identifier in ids:
        modelled = direction.loc[(identifier, "model")]
        measured = direction.loc[(identifier, "replay")]
        assert measured["stages_sign"] == modelled["stages_sign"], identifier
        assert measured["bytes_sign"] == modelled["bytes_sign"], identifier


@needs_sandbox
@pytest.mark.sandbox
def test_replay_self_written_fan_in(tmp_path):
    entry = CorpusEntry(id="fan-in", text=FAN_IN.replace("FROM scratch\n", "FROM busybox\n"))

    replay, model = replay_and_model([entry], tmp_path / "work")

    assert_replay_matches_model(replay, model, ["fan-in"])
    warm = replay.builds.set_index(["strategy", "step"])
    assert warm.loc[("lookahead", 1), "stages_eliminated"] == 2
    assert warm.loc[("per-stage", 1), "stages_built"] == 3
    assert warm.loc[("lookahead", 1), "bytes_downloaded"] < warm.loc[("per-stage", 1), "bytes_downloaded"]


@needs_sandbox
@pytest.mark.sandbox
def test_calibrate_from_replayed_builds(tmp_path, caplog):
    entry = CorpusEntry(id="fan-in", text=FAN_IN.replace("FROM scratch\n", "FROM busybox\n"))
    replay, _ = replay_and_model([entry], tmp_path / "work")

    # A small twin moves too few bytes through some phases for a fit: each such
    # throughput keeps its default and a warning names it. Which phases reach the
    # minimum of 10 MB over 0.05 s depends on the machine's speed, and on a fast
    # one none may, which is an error that gives every reason.
    with caplog.at_level(logging.WARNING, logger="cachelab.model.costs"):
        try:
            fitted = calibrate(replay)
        except CalibrationError as exc:
            assert "no cost parameter could be fitted" in str(exc)
            assert "not fitted" in str(exc)
            return

    defaults = CostModel()
    kept = {record.getMessage().split()[0] for record in caplog.records if "not fitted" in record.getMessage()}
    for parameter in ("download_bytes_per_s", "upload_bytes_per_s", "unpack_bytes_per_s",
                      "snapshot_bytes_per_s", "hash_bytes_per_s", "request_s"):
        assert getattr(fitted, parameter) > 0, parameter
        if parameter in kept:
            assert getattr(fitted, parameter) == getattr(defaults, parameter), parameter
        else:
            assert getattr(fitted, parameter) != getattr(defaults, parameter), parameter
    assert fitted.run_s == defaults.run_s


@pytest.fixture(scope="module")
def corpus_entries(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CorpusEntry]:
    store = tmp_path_factory.mktemp("corpus") / "real-v1.jsonl.zst"
    manifest = REPO_ROOT / "datasets" / "corpora" / "real-v1" / "manifest.jsonl"
    fetch_corpus(manifest, store=store, from_dir=shared / "corpora" / "real-v1")
    logging.getLogger("cachelab.keys.parts").setLevel(logging.ERROR)
    return {entry.id: entry for entry in read_corpus(store)}


# Three hand-read multistage files: a fan-in, a squashed FROM chain with an
# eliminated COPY --from source, and a chain whose only built stage is the last.
CORPUS_SAMPLE = [
    "containers/buildah:tests/bud/multi-stage-builds/Dockerfile.mixed",
    "moby/moby:hack/dockerfiles/govulncheck.Dockerfile",
    "envoyproxy/examples:shared/node/Dockerfile",
]


@needs_sandbox
@pytest.mark.sandbox
@pytest.mark.corpus
def test_replay_corpus_three_files(corpus_entries, tmp_path):
    entries = [corpus_entries[identifier] for identifier in CORPUS_SAMPLE]

    replay, model = replay_and_model(entries, tmp_path / "work")

    assert_replay_matches_model(replay, model, CORPUS_SAMPLE)
    assert set(replay.builds["engine"]) == {"cachelab"}
    assert set(model.builds["engine"]) == {"model"}


@needs_sandbox
@pytest.mark.sandbox
@pytest.mark.corpus
@pytest.mark.slow
def test_replay_corpus_twenty_multistage(corpus_entries, tmp_path):
    ids = sample_ids(list(multistage_ids(corpus_entries.values())), 20)
    entries = [corpus_entries[identifier] for identifier in ids]

    replay, model = replay_and_model(entries, tmp_path / "work")

    assert len(ids) == 20
    assert_replay_matches_model(replay, model, ids)
