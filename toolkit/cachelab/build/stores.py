"""Where a build keeps data between runs: the layer cache and the local image store.

Defaults live under `cachelab.cachedir.cache_home()`: `layer-cache/` (an OCI
layout store whose tags are cache keys), `images/` (base images, tagged by
full reference) and `run-mount-cache/` (`RUN --mount=type=cache` directories).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path

from cachelab.cachedir import cache_home
from cachelab.keys.flags import KanikoOptions
from cachelab.oci.cache import open_layer_cache
from cachelab.oci.reference import is_loopback, parse_registry_reference
from cachelab.oci.transfer import TransferStats
from cachelab.plan.interfaces import LayerCache

logger = logging.getLogger(__name__)


def default_cache_store() -> Path:
    return cache_home() / "layer-cache"


def default_image_store() -> Path:
    return cache_home() / "images"


def run_mount_cache() -> Path:
    """The directories of `RUN --mount=type=cache`, kept between builds as BuildKit keeps them."""
    return cache_home() / "run-mount-cache"


def open_cache(
    location: str | None,
    options: KanikoOptions,
    *,
    insecure: Sequence[str] = (),
    stats: TransferStats | None = None,
    closing: contextlib.ExitStack | None = None,
) -> LayerCache | None:
    """Open the cache store `location` names (None: the default store), or return None when caching is off.

    A registry client made here is closed by `closing` when given. It stops
    contacting a registry that refuses a connection, because kaniko counts a
    failed cache operation as a miss or a skipped push and the build goes on.

    A relative local path is taken as a directory when it exists; anything else
    without `oci:` or a leading `/`, `./` or `../` is a registry repository.
    """
    if not options.cache:
        return None
    if location is None:
        location = str(default_cache_store())
    elif Path(location).is_dir() and not location.startswith(("/", "./", "../", "oci:")):
        location = "./" + location
    if location.startswith(("oci:", "/", "./", "../")):
        logger.debug("layer cache: %s", location)
        return open_layer_cache(location)  # type: ignore[return-value]
    # The registry client imports httpx, which a layout-store cache does not need.
    from cachelab.oci.registry import RegistryClient

    reference = parse_registry_reference(location)
    registry = reference.registry
    client = RegistryClient(registry, insecure=registry in insecure or is_loopback(registry), stats=stats,
                            stop_when_refused=True)
    if closing is not None:
        closing.callback(client.close)
    logger.debug("layer cache: registry repository %s/%s", registry, reference.repository)
    return open_layer_cache(location, client=client)  # type: ignore[return-value]
