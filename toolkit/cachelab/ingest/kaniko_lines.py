"""The kaniko log messages that ingestion reads, by their fixed prefixes.

Prefixes are those of the osscontainertools fork up to v1.28.3. A message that
starts with a Dockerfile instruction keyword is the line kaniko logs as it runs
that command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INSTRUCTION = re.compile(
    r"^(?:RUN|COPY|ADD|ENV|ARG|WORKDIR|USER|LABEL|EXPOSE|VOLUME|CMD|ENTRYPOINT|SHELL|"
    r"STOPSIGNAL|HEALTHCHECK|ONBUILD|MAINTAINER)\b"
)

# Message kinds and their patterns. The groups capture the values the reader uses.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("flags", re.compile(r"^active feature flags: (.*)$")),
    ("building-stage", re.compile(r"^Building stage '(.*)' \[idx: '(-?\d+)', base-idx: '(-?\d+)'\]")),
    ("eliminating-stage", re.compile(r"^Eliminating stage '(.*)' \[idx: '(-?\d+)'\]")),
    ("squashing", re.compile(r"^Squashing stages: (\S+) into (\S+)")),
    ("probe", re.compile(r"^Checking for cached layer \S+?:([0-9a-f]{16,})(?:\.\.\.)?$")),
    ("inferred-hit", re.compile(r"^Cache hit via inferred cross-stage key for cmd: (.*)$")),
    ("hit", re.compile(r"^Using caching version of cmd: (.*)$")),
    ("miss", re.compile(r"^No cached layer found for cmd (.*)$")),
    ("unpacking", re.compile(r"^Unpacking rootfs as cmd (.*) requires it\.$")),
    ("skip-unpacking", re.compile(r"^Skipping unpacking as no commands require it\.$")),
    ("push-layer", re.compile(r"^Pushing layer \S+?:([0-9a-f]{16,}) to cache now")),
    ("push-pointer", re.compile(r"^Pushing cache pointer \S+?:([0-9a-f]{16,}) -> ([0-9a-f]{16,})")),
    ("push-error", re.compile(r"^Error uploading layer to cache: (.*)$")),
    # Debug level only: the error of every cache lookup that found nothing, a plain miss included.
    ("lookup-error", re.compile(r"^Failed to retrieve (?:layer|pointer): (.*)$")),
)


@dataclass(frozen=True, slots=True)
class Message:
    kind: str
    groups: tuple[str, ...]


def classify(message: str) -> Message | None:
    """Return the kind and values of a message ingestion reads, or None."""
    for kind, pattern in PATTERNS:
        match = pattern.match(message)
        if match is not None:
            return Message(kind, match.groups())
    if INSTRUCTION.match(message):
        return Message("command", (message,))
    return None
