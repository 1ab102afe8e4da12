"""The Dockerfile layer: instruction model, parser, variable expansion and stage graph.

Imports nothing else of cachelab.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cachelab.dockerfile.args import Platform, host_platform, platform_args
    from cachelab.dockerfile.errors import DockerfileError, ExpansionError
    from cachelab.dockerfile.graph import (
        KanikoStage,
        SourceRef,
        StageGraph,
        StageInfo,
        plan_stages,
        squash,
        squash_stages,
    )
    from cachelab.dockerfile.lexer import (
        Expansion,
        ShellLexer,
        expand,
        expand_word,
        expand_words,
        resolve_variables,
    )
    from cachelab.dockerfile.model import Dockerfile, Heredoc, Instruction, Mount, Stage
    from cachelab.dockerfile.parse import load_dockerfile, parse_dockerfile, parse_trigger

# The submodule that defines each public name. A name's submodule is imported
# when the name is first read, so importing one submodule (the model, the
# errors) does not load the parser and the stage graph.
_EXPORTS = {
    "Platform": "args",
    "host_platform": "args",
    "platform_args": "args",
    "DockerfileError": "errors",
    "ExpansionError": "errors",
    "KanikoStage": "graph",
    "SourceRef": "graph",
    "StageGraph": "graph",
    "StageInfo": "graph",
    "plan_stages": "graph",
    "squash": "graph",
    "squash_stages": "graph",
    "Expansion": "lexer",
    "ShellLexer": "lexer",
    "expand": "lexer",
    "expand_word": "lexer",
    "expand_words": "lexer",
    "resolve_variables": "lexer",
    "Dockerfile": "model",
    "Heredoc": "model",
    "Instruction": "model",
    "Mount": "model",
    "Stage": "model",
    "load_dockerfile": "parse",
    "parse_dockerfile": "parse",
    "parse_trigger": "parse",
}

__all__ = [
    "Dockerfile",
    "DockerfileError",
    "Expansion",
    "ExpansionError",
    "Heredoc",
    "Instruction",
    "KanikoStage",
    "Mount",
    "Platform",
    "ShellLexer",
    "SourceRef",
    "Stage",
    "StageGraph",
    "StageInfo",
    "expand",
    "expand_word",
    "expand_words",
    "host_platform",
    "load_dockerfile",
    "parse_dockerfile",
    "parse_trigger",
    "plan_stages",
    "platform_args",
    "resolve_variables",
    "squash",
    "squash_stages",
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
