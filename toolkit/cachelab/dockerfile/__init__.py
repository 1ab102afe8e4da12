"""The Dockerfile layer: instruction model, parser, variable expansion and stage graph.

Imports nothing else of cachelab.
"""

from __future__ import annotations

from cachelab.dockerfile.errors import DockerfileError, ExpansionError
from cachelab.dockerfile.lexer import (
    Expansion,
    ShellLexer,
    expand,
    expand_word,
    expand_words,
    resolve_variables,
)
from cachelab.dockerfile.model import Dockerfile, Heredoc, Instruction, Mount, Stage
from cachelab.dockerfile.parse import load_dockerfile, parse_dockerfile

__all__ = [
    "Dockerfile",
    "DockerfileError",
    "Expansion",
    "ExpansionError",
    "Heredoc",
    "Instruction",
    "Mount",
    "ShellLexer",
    "Stage",
    "expand",
    "expand_word",
    "expand_words",
    "load_dockerfile",
    "parse_dockerfile",
    "resolve_variables",
]
