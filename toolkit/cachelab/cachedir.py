"""Location of the data cachelab keeps between runs: corpora, local images, caches."""

from __future__ import annotations

import os
from pathlib import Path


def cache_home() -> Path:
    """Return the cache root.

    That is `$CACHELAB_CACHE_DIR`, else `$XDG_CACHE_HOME/cachelab`, else ~/.cache/cachelab.
    """
    configured = os.environ.get("CACHELAB_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "cachelab"
