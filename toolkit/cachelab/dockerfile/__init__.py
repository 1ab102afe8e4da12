"""The Dockerfile layer: instruction model, parser, variable expansion and stage graph.

Imports nothing else of cachelab.
"""

from __future__ import annotations

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
