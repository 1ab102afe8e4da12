"""Static risks of a stage: inputs that can change its keys or content without notice."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from cachelab.plan.decisions import (
    RISK_ADD_GIT,
    RISK_ADD_REMOTE_UNCHECKSUMMED,
    RISK_BASE_TAG_MUTABLE,
    RISK_ONBUILD_FROM_BASE,
    RISK_RUN_MOUNT_CACHE,
)
from cachelab.plan.stages import PlanStage

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_git_source(source: str) -> bool:
    """Tell whether an ADD source names a Git repository rather than a file.

    Git sources are `git://` URLs, `git@host:path` addresses and any other URL whose
    path ends in `.git`. A `?ref=` query or a `#ref:dir` fragment only selects the
    revision, so it is ignored here.
    """
    if source.startswith(("git@", "git://")):
        return True
    if not _URL.match(source):
        return False
    path = urlsplit(source).path.rstrip("/")
    return path.endswith(".git")


def stage_risks(stage: PlanStage) -> list[str]:
    """Return the risk names of `stage`, each once, in vocabulary order."""
    found: set[str] = set()
    if stage.base_ref is not None and "@sha256:" not in stage.base_ref:
        found.add(RISK_BASE_TAG_MUTABLE)
    if stage.onbuild_from_image:
        found.add(RISK_ONBUILD_FROM_BASE)
    for command in stage.commands:
        instruction = command.instruction
        if instruction.kind == "ADD":
            sources = [word for word in instruction.args[:-1] if not word.startswith("--")]
            for source in sources:
                if is_git_source(source):
                    found.add(RISK_ADD_GIT)
                elif _URL.match(source) and instruction.flag("checksum") is None:
                    found.add(RISK_ADD_REMOTE_UNCHECKSUMMED)
        if instruction.kind == "RUN" and any(mount.type == "cache" for mount in instruction.mounts):
            found.add(RISK_RUN_MOUNT_CACHE)
    order = (
        RISK_BASE_TAG_MUTABLE, RISK_ADD_REMOTE_UNCHECKSUMMED, RISK_ADD_GIT,
        RISK_RUN_MOUNT_CACHE, RISK_ONBUILD_FROM_BASE,
    )
    return [risk for risk in order if risk in found]
