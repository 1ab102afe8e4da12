"""Shared test configuration.

Fixtures live in modules under tests/fixtures/, one per concern (registry server,
base images, sandbox, ...), and are loaded here as plugins.
"""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.paths",
    "tests.fixtures.registry",
    "tests.fixtures.images",
    "tests.fixtures.sandbox",
    "tests.fixtures.builder",
]
