"""Loading the kaniko-observed cases under tests/cases and replaying their mutations."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cachelab.plan.interfaces import BaseImage
from cachelab.plan.memory import MemoryCache

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"


def case_names() -> list[str]:
    return sorted(path.name for path in CASES_DIR.iterdir() if (path / "expected.json").is_file())


def load_case(name: str) -> dict[str, Any]:
    return json.loads((CASES_DIR / name / "expected.json").read_text())


def case_modes() -> list[tuple[str, str]]:
    return [(name, mode["mode"]) for name in case_names() for mode in load_case(name)["modes"]]


@dataclass
class RecordedImage:
    seed: str | None
    env: list[str]
    manifest_digest: str


class RecordedImageSource:
    """A BaseImageSource whose images are known only by their recorded seed and Env."""

    def __init__(self, images: dict[str, dict[str, Any]]) -> None:
        self.images = {
            reference: RecordedImage(
                seed=fact["seed"], env=list(fact["env"]),
                manifest_digest=fact.get("manifest_digest") or _placeholder_digest(reference),
            )
            for reference, fact in images.items()
        }
        self.resolved: list[str] = []

    def move_tag(self, reference: str, *, seed: str | None, env: list[str], manifest_digest: str | None) -> None:
        self.images[reference] = RecordedImage(
            seed=seed, env=env, manifest_digest=manifest_digest or _placeholder_digest(reference + (seed or "")),
        )

    def resolve(self, reference: str, *, platform: str | None = None) -> BaseImage:
        self.resolved.append(reference)
        image = self.images[reference]
        config = json.dumps({"config": {"Env": image.env}}).encode()
        return BaseImage(
            reference=reference, manifest=b"{}", manifest_digest=image.manifest_digest, config=config,
            media_type="application/vnd.oci.image.manifest.v1+json", seed=image.seed,
        )


def _placeholder_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def prepare_context(case: str, destination: Path, facts: dict[str, Any]) -> Path:
    """Copy a case's context with the modes and owner kaniko hashed (0644 files, 0755 dirs, root)."""
    source = CASES_DIR / case / "context"
    destination.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True)
    file_mode = int(facts["file_mode"], 8)
    dir_mode = int(facts["dir_mode"], 8)
    os.chmod(destination, dir_mode)
    for root, dirs, files in os.walk(destination):
        for name in dirs:
            os.chmod(os.path.join(root, name), dir_mode)
        for name in files:
            os.chmod(os.path.join(root, name), file_mode)
    return destination


def apply_mutations(
    build: dict[str, Any], context: Path, cache: MemoryCache, images: RecordedImageSource,
) -> list[str]:
    """Apply a build's mutations; return the references of base images whose seed is unknown."""
    unknown: list[str] = []
    for mutation in build["mutations"]:
        operation = mutation["op"]
        if operation == "write":
            path = context / mutation["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(mutation["content"])
            os.chmod(path, 0o644)
        elif operation == "rename":
            (context / mutation["from"]).rename(context / mutation["to"])
        elif operation == "chmod":
            os.chmod(context / mutation["path"], int(mutation["mode"], 8))
        elif operation == "touch":
            os.utime(context / mutation["path"])
        elif operation == "delete-cache-entry":
            cache.delete(mutation["key"])
        elif operation == "move-tag":
            images.move_tag(
                mutation["reference"], seed=mutation["seed"], env=mutation["env"],
                manifest_digest=mutation.get("manifest_digest"),
            )
            if mutation["seed"] is None:
                unknown.append(mutation["reference"])
        else:
            raise ValueError(f"unknown mutation {operation!r} in a case file")
    return unknown


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def _upper_output(source: str) -> Any:
    def save(context: Path, stage: int, saved: Path) -> None:
        # The stage ran `tr a-z A-Z < <source> > /out.txt` (a shell redirect: mode 0644).
        _write(saved / "out.txt", (context / source).read_text().upper())
    return save


def _deps_output(context: Path, stage: int, saved: Path) -> None:
    # The stage ran `grep '^dep:' /tmp/manifest.txt > /tmp/deps.txt`.
    lines = (context / "manifest.txt").read_text().splitlines(keepends=True)
    _write(saved / "tmp" / "deps.txt", "".join(line for line in lines if line.startswith("dep:")))


def _app_output(context: Path, stage: int, saved: Path) -> None:
    # `WORKDIR /app` then `COPY . .`: the .dockerignore (`*`, `!keep.txt`) leaves only
    # keep.txt, copied with its context mode into the directory WORKDIR made (0755).
    app = saved / "app"
    app.mkdir(parents=True)
    os.chmod(app, 0o755)
    _write(app / "keep.txt", (context / "keep.txt").read_text())


# What the builder would save of each source stage for a later COPY --from, per case:
# the files the stage's instructions produce, with the modes they get.
BUILDER_OUTPUTS = {
    "01-copy-from-stale-hit": _upper_output("app.txt"),
    "02-copy-from-unchanged-output-hit": _deps_output,
    "12-dockerignore-allowlist-copy-from": _app_output,
    "25-lookahead-skip-cached-ancestor": _upper_output("src.txt"),
}
