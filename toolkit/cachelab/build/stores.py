"""Where a build keeps data between runs: the layer cache and the local image store.

Defaults live under `cachelab.cachedir.cache_home()`: `layer-cache/` (an OCI
layout store whose tags are cache keys), `images/` (base images, tagged by
full reference) and `run-mount-cache/` (`RUN --mount=type=cache` directories).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cachelab.build.request import InvalidBuildRequest
from cachelab.cachedir import cache_home
from cachelab.keys.flags import KanikoOptions
from cachelab.oci.cache import KANIKO_LAYOUT, LAYOUT_STORE, REGISTRY_REPOSITORY, cache_location_kind, open_layer_cache
from cachelab.oci.errors import InvalidReference
from cachelab.oci.layout import Descriptor, LayoutStore
from cachelab.oci.reference import (
    LayoutReference,
    is_loopback,
    parse_reference,
    parse_registry_reference,
)
from cachelab.oci.transfer import TransferStats
from cachelab.plan.interfaces import LayerCache

logger = logging.getLogger(__name__)

CACHE_LOCATION_HINT = (
    "Pass --cache-repo a directory you can write to (it is created when missing), "
    "oci:DIR, or a registry repository HOST[:PORT]/REPO whose HOST contains a '.' or ':' or is localhost."
)


def default_cache_store() -> Path:
    return cache_home() / "layer-cache"


def default_image_store() -> Path:
    return cache_home() / "images"


def find_in_image_store(store: LayoutStore, reference: str) -> tuple[str, Descriptor] | None:
    """Return the tag and index descriptor under which the local image store has registry image `reference`.

    The store is searched as a build searches it for a FROM image: under the
    normalized reference (`docker.io/library/busybox:latest` for `busybox`),
    then under `reference` as written. Returns None when neither tag is there,
    when the store does not exist, and for an `oci:` reference. Raises
    InvalidReference when `reference` does not parse.
    """
    parsed = parse_reference(reference)
    if isinstance(parsed, LayoutReference) or not store.exists():
        return None
    for tag in dict.fromkeys((str(parsed), reference)):
        descriptor = store.find(tag)
        if descriptor is not None:
            return tag, descriptor
    return None


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

    `cachelab.oci.cache.cache_location_kind` decides whether `location` is a
    local store or a registry repository.
    """
    if not options.cache:
        return None
    location = _default_form(location)
    check_cache_location(location)
    if _location_kind(location) != REGISTRY_REPOSITORY:
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


def cache_store_of(location: str | None) -> tuple[str, str]:
    """Return the cache store `location` names, as errors name it, and its kind (see `cachelab.build.cached_layer`)."""
    if location is None:
        return str(default_cache_store()), LAYOUT_STORE
    return location, _location_kind(location)


def _default_form(location: str | None) -> str:
    """Return `location`, or the default store's path when it is None."""
    if location is None:
        return str(default_cache_store())
    return location


def _location_kind(location: str) -> str:
    """Return `cache_location_kind(location)`, raising InvalidBuildRequest where it raises InvalidReference."""
    try:
        return cache_location_kind(location)
    except InvalidReference as error:
        raise InvalidBuildRequest(f"cache store {location!r}: {error.reason}", hint=CACHE_LOCATION_HINT) from None


def check_cache_location(location: str | None) -> None:
    """Raise InvalidBuildRequest when the local cache `location` names cannot store entries.

    A layout store needs a writable directory at its path. `oci:DIR` needs a
    writable parent of DIR, because each entry is a directory `DIR:<key>` beside
    it. A registry repository is not checked here, because kaniko counts a
    failed registry operation as a miss or a skipped push and the build goes on.
    """
    location = _default_form(location)
    kind = _location_kind(location)
    if kind == KANIKO_LAYOUT:
        prefix = location[len("oci:"):]
        if not prefix:
            return  # open_layer_cache rejects the empty directory with its own message.
        parent = Path(prefix).parent
        problem = directory_write_problem(parent)
        if problem is not None:
            raise InvalidBuildRequest(f"cache store {location}: {parent} {problem}", hint=CACHE_LOCATION_HINT)
    elif kind == LAYOUT_STORE:
        problem = directory_write_problem(Path(location))
        if problem is not None:
            raise InvalidBuildRequest(f"cache store {location} {problem}", hint=CACHE_LOCATION_HINT)


def directory_write_problem(directory: Path) -> str | None:
    """Return why files cannot be written in `directory`, or None when they can.

    The reason completes a sentence whose subject is the path, such as "is not
    a directory". A missing `directory` is not created, because builds started
    together create the same directories, and one of them fails when another's
    check creates the directory first or removes it again. The check creates
    and removes a uniquely named directory in the nearest existing parent instead.
    """
    existing = directory
    missing: Path | None = None
    while not existing.exists() and existing != existing.parent:
        missing = existing
        existing = existing.parent
    if not existing.is_dir():
        if existing == directory:
            return "is not a directory"
        return f"cannot be created, because {existing} is not a directory"

    if missing is None:
        try:
            with tempfile.TemporaryFile(prefix=".cachelab-write-check-", dir=directory):
                pass
        except OSError as error:
            return f"is not writable: cannot create a file in it ({error.strerror})"
        return None

    try:
        with (
            tempfile.TemporaryDirectory(prefix=".cachelab-write-check-", dir=existing) as probe,
            tempfile.TemporaryFile(dir=probe),
        ):
            pass
    except OSError as error:
        return f"is not writable: cannot create directory {missing} ({error.strerror})"
    return None
