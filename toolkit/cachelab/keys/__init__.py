"""The cache-key engine: kaniko's cache keys, byte for byte.

The keys reproduce osscontainertools/kaniko at commit 6bcc934 (v1.28.3-23). A
stage's key chain starts from a seed (`seed`): the digest of kaniko's rewrite of
the remote base image, or the final key of a local base stage. Each instruction
then appends its parts (`parts`): for RUN the sorted replacement environment
(`buildargs`), then the instruction text (raw, or resolved under
`FF_KANIKO_RESOLVE_CACHE_KEY`), then one hash per source path (`filehash`,
filtered by `.dockerignore` from `dockerignore`). The composite key (`composite`)
turns the parts into the 64-hex key, either by joining them with `-` (legacy) or
by a rolling SHA-256 chain. Flags and executor options live in `flags`, and
`explain` names the first part in which two keys differ.

Nothing here decides hits or misses; the planner (`cachelab.plan`) does.
"""

from __future__ import annotations

from cachelab.keys.buildargs import BuildArgs, StageEnv
from cachelab.keys.composite import CompositeKey
from cachelab.keys.dockerignore import DockerIgnore, FileContext
from cachelab.keys.errors import KeyEngineError
from cachelab.keys.explain import Difference, explain
from cachelab.keys.filehash import HashStats, add_path, entry_hash
from cachelab.keys.flags import PROFILES, KanikoOptions, profile
from cachelab.keys.parts import KeyPart, KeyParts, SourceRoot, instruction_parts
from cachelab.keys.seed import base_seed, scratch_seed

__all__ = [
    "PROFILES",
    "BuildArgs",
    "CompositeKey",
    "Difference",
    "DockerIgnore",
    "FileContext",
    "HashStats",
    "KanikoOptions",
    "KeyEngineError",
    "KeyPart",
    "KeyParts",
    "SourceRoot",
    "StageEnv",
    "add_path",
    "base_seed",
    "entry_hash",
    "explain",
    "instruction_parts",
    "profile",
    "scratch_seed",
]
