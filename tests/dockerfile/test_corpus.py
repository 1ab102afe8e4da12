"""Every Dockerfile of the real-v1 corpus parses, or fails with DockerfileError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cachelab.dockerfile import DockerfileError, load_dockerfile, plan_stages

pytestmark = pytest.mark.corpus

# Files that real builders reject too, each for the reason given.
EXPECTED_FAILURES = {
    # A documentation sample with a literal `...` line standing for omitted text.
    "GoogleContainerTools/skaffold:docs-v1/content/en/samples/builders/artifact-dependencies/"
    "Dockerfile.app": "unknown instruction: ...",
    # buildah accepts `/` in stage names; BuildKit's name rule rejects it.
    "containers/buildah:tests/bud/base-with-arg/Containerfile": "invalid stage name",
    # A deliberately broken buildah fixture: `--chmod` with no value.
    "containers/buildah:tests/bud/copy-chmod/Dockerfile.bad": "missing value for flag --chmod",
    # A compose test fixture for a broken build: a `WRONG` instruction.
    "docker/compose:pkg/e2e/fixtures/wrong-composefile/service1/Dockerfile": (
        "unknown instruction: WRONG"
    ),
}


def _manifest(shared: Path) -> list[dict[str, object]]:
    corpus = shared / "corpora" / "real-v1"
    with (corpus / "manifest.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def test_corpus_parses_with_manifest_stage_counts(shared: Path):
    corpus = shared / "corpora" / "real-v1"
    failures: dict[str, str] = {}
    mismatches: list[str] = []

    for entry in _manifest(shared):
        try:
            dockerfile = load_dockerfile(corpus / str(entry["file"]))
        except DockerfileError as exc:
            assert exc.line is not None, f"{entry['id']}: error without a line: {exc}"
            failures[str(entry["id"])] = str(exc)
            continue
        # The manifest counts lines matching `^\s*FROM\s`; no corpus file hides
        # such a line in a heredoc or continuation, so the counts agree.
        if len(dockerfile.stages) != entry["stages"]:
            mismatches.append(f"{entry['id']}: {len(dockerfile.stages)} != {entry['stages']}")

    assert mismatches == []
    assert set(failures) == set(EXPECTED_FAILURES)
    for corpus_id, expected in EXPECTED_FAILURES.items():
        assert expected in failures[corpus_id]


def test_corpus_stage_graphs(shared: Path):
    corpus = shared / "corpora" / "real-v1"
    planned = 0
    needs_build_arg = 0

    for entry in _manifest(shared):
        if entry["id"] in EXPECTED_FAILURES:
            continue
        dockerfile = load_dockerfile(corpus / str(entry["file"]))
        try:
            graph = plan_stages(dockerfile, platform="linux/amd64")
        except DockerfileError as exc:
            # FROM $BASE with no default: the project passes the base as a build arg.
            assert "expands to an empty name" in str(exc), f"{entry['id']}: {exc}"
            needs_build_arg += 1
            continue
        planned += 1
        assert graph.built[-1].final
        absorbed = sorted(index for stage in graph.built for index in stage.absorbed)
        live = [stage.index for stage in graph.stages if stage.live]
        assert absorbed == live, entry["id"]

    assert planned >= 500
    assert needs_build_arg <= 30
