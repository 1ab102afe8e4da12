"""A catalog of base-image sizes for the cost model (`datasets/base-images.json`).

Each entry gives the compressed size of one repository, optionally for a tag
variant (`alpine`, `slim`), with a `source` saying where the number came from
(`estimate` or `registry`). A reference is matched by repository, then by the
first variant its tag contains; anything else gets the catalog's stated default.
`refresh_catalog` replaces the numbers with sizes read over the registry API.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cachelab.model.errors import CatalogError

logger = logging.getLogger(__name__)

# The repository checkout's copy; an installed package passes a path instead.
DEFAULT_CATALOG = Path(__file__).resolve().parents[3] / "datasets" / "base-images.json"
DEFAULT_IMAGE_BYTES = 100_000_000
VARIANTS = ("alpine", "slim")
_DOCKER_HUB = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")


@dataclass(frozen=True, slots=True)
class ImageSize:
    """The catalogued compressed size of one base image and where it came from."""

    compressed_bytes: int
    source: str
    repository: str | None  # the catalog entry that matched, None for the default


def repository_of(reference: str) -> str:
    """Return the repository of an image reference, with Docker Hub's implied prefixes removed.

    `python:3.12-slim` and `docker.io/library/python` both give `library/python`.
    """
    name = reference.split("@", 1)[0]
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name = name[:colon]
    for prefix in _DOCKER_HUB:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if "/" not in name:
        name = f"library/{name}"
    return name.lower()


def tag_of(reference: str) -> str:
    """Return the tag of a reference, `latest` when none is written."""
    name = reference.split("@", 1)[0]
    colon = name.rfind(":")
    return name[colon + 1:] if colon > name.rfind("/") else "latest"


class BaseImageCatalog:
    """Compressed base-image sizes by repository and variant, with a stated default."""

    def __init__(
        self,
        entries: dict[tuple[str, str | None], ImageSize],
        *,
        default_bytes: int = DEFAULT_IMAGE_BYTES,
        uncompressed_ratio: float = 2.5,
        snapshot_date: str | None = None,
    ) -> None:
        self.entries = entries
        self.default_bytes = default_bytes
        self.uncompressed_ratio = uncompressed_ratio
        self.snapshot_date = snapshot_date

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> BaseImageCatalog:
        """Read a catalog file; with no path, the checkout's `datasets/base-images.json`.

        A missing default file gives an empty catalog, so every image gets the default size.
        """
        source = Path(path) if path is not None else DEFAULT_CATALOG
        if path is None and not source.is_file():
            logger.warning("no base-image catalog at %s; every image gets the default size", source)
            return cls({})
        try:
            document = json.loads(source.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CatalogError(f"failed to read base-image catalog {source}: {exc.strerror}") from exc
        except ValueError as exc:
            raise CatalogError(f"base-image catalog {source} is not valid JSON: {exc}") from exc
        return cls.from_document(document, source=str(source))

    @classmethod
    def from_document(cls, document: dict[str, Any], *, source: str = "catalog") -> BaseImageCatalog:
        entries: dict[tuple[str, str | None], ImageSize] = {}
        for position, item in enumerate(document.get("images", [])):
            try:
                repository = str(item["repository"]).lower()
                size = ImageSize(int(item["compressed_bytes"]), str(item["source"]), repository)
            except (KeyError, TypeError, ValueError) as exc:
                raise CatalogError(
                    f"{source}: image entry {position} needs repository, compressed_bytes and source: {exc}",
                ) from exc
            entries[(repository, item.get("variant"))] = size
        return cls(
            entries,
            default_bytes=int(document.get("default_compressed_bytes", DEFAULT_IMAGE_BYTES)),
            uncompressed_ratio=float(document.get("uncompressed_ratio", 2.5)),
            snapshot_date=document.get("snapshot_date"),
        )

    def size(self, reference: str) -> ImageSize:
        """Return the compressed size of `reference`: its variant's entry, its repository's, or the default."""
        if reference == "scratch":
            return ImageSize(0, "scratch", None)
        repository = repository_of(reference)
        tag = tag_of(reference)
        for variant in VARIANTS:
            if variant in tag and (repository, variant) in self.entries:
                return self.entries[(repository, variant)]
        found = self.entries.get((repository, None))
        if found is not None:
            return found
        return ImageSize(self.default_bytes, "default", None)


def refresh_catalog(
    path: str | os.PathLike[str] | None = None,
    *,
    tags: dict[str, str] | None = None,
    platform: str = "linux/amd64",
    timeout_s: float = 30.0,
) -> int:
    """Replace each entry's size with the layer sizes its registry reports; return how many changed.

    For every entry it fetches the manifest of `<repository>:<tag>` (the `latest`
    tag, the variant's name, or `tags[repository]`), picks `platform` from an
    index, and sums the layer sizes. Entries it cannot read keep their estimate
    and are logged. Needs network access to the registries; tests never run it.
    """
    from cachelab.model.registry_sizes import compressed_size

    # NOTE: no test runs this: it contacts public registries, which tests must not.
    source = Path(path) if path is not None else DEFAULT_CATALOG
    document = json.loads(source.read_text(encoding="utf-8"))
    changed = 0
    for item in document.get("images", []):
        repository = item["repository"]
        if repository == "library/scratch":
            continue
        tag = (tags or {}).get(repository) or item.get("variant") or "latest"
        try:
            size = compressed_size(repository, tag, platform=platform, timeout_s=timeout_s)
        except CatalogError as exc:
            logger.warning("kept the estimate for %s:%s: %s", repository, tag, exc)
            continue
        item["compressed_bytes"] = size
        item["source"] = f"registry {repository}:{tag}"
        changed += 1
    document["snapshot_date"] = datetime.now(UTC).date().isoformat()
    source.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return changed
