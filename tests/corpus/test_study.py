"""The static study and the model over the real-Dockerfile corpus, with hand-checked files."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from cachelab.corpus.fetch import fetch_corpus
from cachelab.corpus.manifest import read_corpus
from cachelab.corpus.study import StudySettings, base_pin, study_entries
from cachelab.corpus.study_parallel import study_corpus
from cachelab.corpus.study_report import (
    HEADLINE_FILE_COLUMNS,
    HEADLINE_STAGE_COLUMNS,
    headline,
    study_frames,
    text_report,
)
from cachelab.record import Recording
from tests.fixtures.paths import REPO_ROOT

pytestmark = pytest.mark.corpus

# Hand-checked files of real-v1 (read them in the manifest's `file` copies).
FROM_CHAIN = "envoyproxy/examples:shared/node/Dockerfile"
FAN_IN = "containers/buildah:tests/bud/multi-stage-builds/Dockerfile.mixed"
DIGEST_PINNED = "envoyproxy/examples:grpc-bridge/Dockerfile-grpc-go"
REMOTE_ADD = "goharbor/harbor:tools/migrate_chart/Dockerfile"
PROFILES = ("kaniko", "kaniko-copy", "kaniko-lookahead")


@pytest.fixture(scope="module")
def corpus_store(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("corpus") / "real-v1.jsonl.zst"
    manifest = REPO_ROOT / "datasets" / "corpora" / "real-v1" / "manifest.jsonl"
    report = fetch_corpus(manifest, store=store, from_dir=shared / "corpora" / "real-v1")
    assert not report.failures
    return store


@pytest.fixture(scope="module")
def frames(corpus_store: Path) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    logging.getLogger("cachelab.keys.parts").setLevel(logging.ERROR)
    yield study_frames(study_entries(read_corpus(corpus_store)))
    logging.getLogger("cachelab.keys.parts").setLevel(logging.NOTSET)


def stage_table(stages: pd.DataFrame, dockerfile_id: str, profile: str) -> pd.DataFrame:
    rows = stages[(stages["dockerfile_id"] == dockerfile_id) & (stages["profile"] == profile)]
    return rows.set_index("stage_index").sort_index()


def test_study_covers_whole_corpus(frames):
    files, stages = frames

    assert len(files) == 561
    assert files["error"].isna().sum() == 528
    assert set(files.loc[files["error"].notna(), "error_kind"]) == {"parse"}
    studied = files[files["error"].isna()]
    assert len(stages) == 3 * int(studied["stages"].sum())


def test_study_from_chain_squashed(frames):
    _, stages = frames

    for profile in PROFILES:
        table = stage_table(stages, FROM_CHAIN, profile)
        assert list(table["action"]) == ["squashed", "unused", "squashed", "built"]
        assert list(table["from_chain_depth"]) == [1, 2, 2, 3]
        assert list(table["from_children"]) == [2, 0, 1, 0]
        assert list(table["base_pin"]) == ["digest", "stage", "stage", "stage"]
        assert bool(table.loc[3, "key_a_priori"])
        # The built stage took node@sha256:... as its base, so its tag risk is absent.
        assert list(table.loc[3, "key_risks"]) == []


def test_study_fan_in(frames):
    files, stages = frames

    lookahead = stage_table(stages, FAN_IN, "kaniko-lookahead")
    assert list(lookahead["copy_from_sources"]) == [0, 0, 0, 3]
    assert list(lookahead["copy_from_consumers"]) == [1, 1, 1, 0]
    assert list(lookahead["base_pin"]) == ["scratch"] * 4
    assert list(lookahead["action"]) == ["eliminated", "eliminated", "eliminated", "built"]
    assert lookahead["key_a_priori"].all()

    for profile in ("kaniko", "kaniko-copy"):
        table = stage_table(stages, FAN_IN, profile)
        assert list(table["action"]) == ["built"] * 4
        assert list(table["key_a_priori"]) == [True, True, True, False]
        assert list(table.loc[3, "key_blockers"]) == ["inference-disabled"]

    row = files.set_index("dockerfile_id").loc[FAN_IN]
    assert row["copy_from_stage"] == 3
    assert row["stages_eliminated"] == 3
    assert row["model_lookahead_stages_built"] == 1
    assert row["model_saved_s"] > 0


def test_study_digest_pinned_base(frames):
    files, stages = frames

    for profile in PROFILES:
        table = stage_table(stages, DIGEST_PINNED, profile)
        assert len(table) == 1
        assert table.loc[0, "base_pin"] == "digest"
        assert list(table.loc[0, "key_risks"]) == []
        assert bool(table.loc[0, "key_a_priori"])
    assert files.set_index("dockerfile_id").loc[DIGEST_PINNED, "model_saved_s"] == 0


def test_study_remote_add_without_checksum(frames):
    _, stages = frames

    table = stage_table(stages, REMOTE_ADD, "kaniko-lookahead")
    assert list(table.loc[0, "key_risks"]) == ["base-tag-mutable", "add-remote-unchecksummed"]
    assert table.loc[0, "base_pin"] == "tag"
    # A remote ADD is keyed by its text, so the key stays known before building.
    assert bool(table.loc[0, "key_a_priori"])


def test_headline_numbers(frames):
    files, stages = frames

    table = headline(files, stages).set_index(["metric", "profile"], drop=False)
    value = table["value"]
    assert value[("files", None)] == 561
    assert value[("files_studied", None)] == 528
    assert 0 < value[("multistage_share", None)] < 1
    eliminated = value[("eliminated_share", "kaniko-lookahead")]
    assert 0 < eliminated < value[("eliminated_share_multistage", "kaniko-lookahead")]
    assert value[("a_priori_share", "kaniko-lookahead")] > value[("a_priori_share", "kaniko-copy")]
    assert ("blocker:inference-disabled", "kaniko-copy") in value.index
    assert set(table.loc[table["metric"].str.startswith("saved_"), "mode"]) == {"model"}

    report = text_report(headline(files, stages))
    assert "eliminated_share [kaniko-lookahead]" in report
    assert "assumption: unknown bases" in report


def test_headline_reads_listed_columns(frames):
    files, stages = frames

    full = headline(files, stages)
    narrow = headline(files[list(HEADLINE_FILE_COLUMNS)], stages[list(HEADLINE_STAGE_COLUMNS)])

    pd.testing.assert_frame_equal(narrow, full)


def test_study_chunks_match_serial(corpus_store: Path):
    entries = list(read_corpus(corpus_store))[:40]

    serial = [study.file_row for study in study_entries(entries)]
    parallel = [study.file_row for study in study_corpus(entries, workers=2, chunk_size=7)]

    assert [row["dockerfile_id"] for row in parallel] == [row["dockerfile_id"] for row in serial]
    assert [row.get("model_saved_s") for row in parallel] == [row.get("model_saved_s") for row in serial]


def test_study_model_events_form_tables(corpus_store: Path):
    entries = [entry for entry in read_corpus(corpus_store) if entry.id == FAN_IN]
    settings = StudySettings(record_events=True, run_id="test")

    [study] = list(study_entries(entries, settings))
    recording = Recording.from_events(study.events, environment={})

    builds = recording.builds.set_index(["strategy", "step"])
    assert set(recording.builds["engine"]) == {"model"}
    assert builds.loc[("lookahead", 1), "stages_eliminated"] == 3
    assert builds.loc[("per-stage", 1), "stages_eliminated"] == 0
    assert builds.loc[("lookahead", 1), "wall_s"] < builds.loc[("per-stage", 1), "wall_s"]
    assert builds.loc[("lookahead", 1), "wall_s"] == pytest.approx(study.file_row["model_lookahead_warm_s"])


@pytest.mark.parametrize(
    ("written", "kind", "image", "pin"),
    [
        ("scratch", "scratch", None, "scratch"),
        ("builder", "stage", None, "stage"),
        ("golang:${GO_VERSION}-alpine", "image", "golang:1.22-alpine", "arg"),
        ("alpine@sha256:" + "0" * 64, "image", "alpine@sha256:" + "0" * 64, "digest"),
        ("alpine:3.20", "image", "alpine:3.20", "tag"),
        ("alpine", "image", "alpine", "latest"),
    ],
)
def test_base_pin(written, kind, image, pin):
    assert base_pin(written, kind, image) == pin
