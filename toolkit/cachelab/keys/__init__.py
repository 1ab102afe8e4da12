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

import importlib
import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cachelab.keys.buildargs import BuildArgs, StageEnv
    from cachelab.keys.composite import CompositeKey
    from cachelab.keys.dockerignore import DockerIgnore, FileContext
    from cachelab.keys.errors import KeyEngineError
    from cachelab.keys.explain import Difference, explain
    from cachelab.keys.filehash import HashStats, add_path, entry_hash
    from cachelab.keys.flags import PROFILES, KanikoOptions, profile
    from cachelab.keys.parts import KeyPart, KeyParts, SourceRoot, instruction_parts
    from cachelab.keys.seed import base_seed, scratch_seed

# The submodule that defines each public name. A name's submodule is imported
# when the name is first read, so importing one submodule (as a warm build does
# with `cachelab.keys.errors`) does not load the whole engine.
_EXPORTS = {
    "BuildArgs": "buildargs",
    "StageEnv": "buildargs",
    "CompositeKey": "composite",
    "DockerIgnore": "dockerignore",
    "FileContext": "dockerignore",
    "KeyEngineError": "errors",
    "Difference": "explain",
    "explain": "explain",
    "HashStats": "filehash",
    "add_path": "filehash",
    "entry_hash": "filehash",
    "PROFILES": "flags",
    "KanikoOptions": "flags",
    "profile": "flags",
    "KeyPart": "parts",
    "KeyParts": "parts",
    "SourceRoot": "parts",
    "instruction_parts": "parts",
    "base_seed": "seed",
    "scratch_seed": "seed",
}

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


def __getattr__(name: str) -> object:
    """Import the submodule that defines the public name `name` and return the name's value."""
    submodule = _EXPORTS.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    # Stored in the module, so later reads find it without calling this function.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _KeysPackage(types.ModuleType):
    """This package's module type, which keeps `explain` the function.

    The import system sets a package attribute to each submodule it loads, and
    `explain` names both a function and its submodule. Without this class,
    `import cachelab.keys.explain` would replace the function with the submodule.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "explain" and isinstance(value, types.ModuleType):
            value = value.explain
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _KeysPackage
