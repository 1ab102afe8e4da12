"""The machine and software a recording was made with, stored beside its tables."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from datetime import UTC, datetime

# Packages whose versions can change a measurement or the tables' contents.
PACKAGES = ("cachelab", "pandas", "numpy", "pyarrow", "matplotlib", "dockerfile", "httpx")


def package_version(name: str) -> str | None:
    """Return the installed version of distribution `name`, or None if it is absent."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def capture_environment() -> dict[str, object]:
    """Return host, CPU count, platform, Python and package versions of this process."""
    from cachelab import __version__

    return {
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "cachelab_version": __version__,
        "packages": {name: package_version(name) for name in PACKAGES},
        "captured_at": datetime.now(UTC).isoformat(),
    }
