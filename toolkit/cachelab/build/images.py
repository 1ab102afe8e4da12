"""Base images of a build: the local image store first, then the image's registry.

The local image store is an OCI image layout whose tags are full references
(`docker.io/library/busybox:latest`); a FROM word is looked up under its
normalized name, then as written. A busybox reference (any tag of
`docker.io/library/busybox`) missing from the store is imported from the host's
static busybox, so the example builds work offline on a fresh machine. Every
other reference is pulled from its registry; `oci:DIR:TAG` names a layout store.

`BuildImages` is the planner's `BaseImageSource` (manifest and config only) and
also opens the layers of the images it resolved, for unpacking and pushing.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cachelab.build.errors import BuildError
from cachelab.oci.image import (
    Image,
    ImageResolver,
    LayoutImageSource,
    ResolvedImage,
    resolve_manifest,
)
from cachelab.oci.layout import LayoutStore
from cachelab.oci.reference import LayoutReference, parse_reference
from cachelab.oci.transfer import TransferStats
from cachelab.plan.interfaces import BaseImage

logger = logging.getLogger(__name__)

BUSYBOX_REPOSITORY = ("docker.io", "library/busybox")


@dataclass(frozen=True)
class ResolvedBase:
    """A base image and the source its blobs are read from."""

    image: Image
    local: bool  # found in the local image store


class BuildImages:
    """Resolve base images from the local store, else their registry, once per reference."""

    def __init__(
        self,
        store_path: str | os.PathLike[str],
        *,
        insecure: Sequence[str] = (),
        stats: TransferStats | None = None,
        import_busybox: bool = True,
    ) -> None:
        self.store = LayoutStore(store_path)
        self.local_source = LayoutImageSource(self.store)
        self.resolver = ImageResolver(insecure=insecure, stats=stats)
        self.import_busybox = import_busybox
        self._resolved: dict[tuple[str, str | None], ResolvedBase] = {}

    def close(self) -> None:
        self.resolver.close()

    def resolve(self, reference: str, *, platform: str | None = None) -> BaseImage:
        """Return the manifest and config of `reference` (the planner's `BaseImageSource`)."""
        resolved = self.base(reference, platform=platform).image.resolved
        return BaseImage(
            reference=reference,
            manifest=resolved.manifest,
            manifest_digest=resolved.manifest_digest,
            config=resolved.config,
            media_type=resolved.media_type,
        )

    def base(self, reference: str, *, platform: str | None = None) -> ResolvedBase:
        """Return the image `reference` names, with lazily opened layers."""
        cached = self._resolved.get((reference, platform))
        if cached is not None:
            return cached
        found = self._lookup(reference, platform)
        self._resolved[(reference, platform)] = found
        return found

    def resolved_base(self, reference: str, *, platform: str | None = None) -> ResolvedBase | None:
        """Return the image `reference` names if it was resolved before, else None (no lookup, import or pull)."""
        return self._resolved.get((reference, platform))

    def _lookup(self, reference: str, platform: str | None) -> ResolvedBase:
        parsed = parse_reference(reference)
        if isinstance(parsed, LayoutReference):
            return ResolvedBase(self.resolver.image(reference, platform=platform), local=True)

        local = self._from_store(reference, str(parsed), platform)
        if local is not None:
            return local
        if self.import_busybox and (parsed.registry, parsed.repository) == BUSYBOX_REPOSITORY and parsed.digest is None:
            import filelock

            # Builds started together on a fresh machine import busybox once: the
            # first takes the lock, and the others find its image when they get it.
            self.store.path.parent.mkdir(parents=True, exist_ok=True)
            with filelock.FileLock(str(self.store.path.parent / "busybox-import.lock")):
                local = self._from_store(reference, str(parsed), platform)
                if local is None:
                    self._import_busybox(str(parsed))
                    local = self._from_store(reference, str(parsed), platform)
            if local is not None:
                return local
        logger.info("base %s is not in the local image store %s; pulling it from %s",
                    reference, self.store.path, parsed.registry)
        return ResolvedBase(self.resolver.image(str(parsed), platform=platform), local=False)

    def _from_store(self, reference: str, normalized: str, platform: str | None) -> ResolvedBase | None:
        if not self.store.exists():
            return None
        for tag in dict.fromkeys((normalized, reference)):
            if self.store.find(tag) is None:
                continue
            resolved = resolve_manifest(
                reference, tag, self.local_source.fetch_manifest, self.local_source.read_blob, platform,
            )
            logger.debug("base %s found in the local image store as %s", reference, tag)
            return ResolvedBase(Image(_renamed(resolved, reference), self.local_source), local=True)
        return None

    def _import_busybox(self, tag: str) -> None:
        # Imported here because only the first build on a machine imports busybox.
        from cachelab.oci.busybox import DEFAULT_BUSYBOX, busybox_rootfs
        from cachelab.oci.importer import import_rootfs

        if not os.path.isfile(DEFAULT_BUSYBOX):
            logger.info("no %s to import busybox from; install Debian's busybox-static", DEFAULT_BUSYBOX)
            return
        logger.info("importing %s from the host's %s into the local image store %s",
                    tag, DEFAULT_BUSYBOX, self.store.path)
        self.store.path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="busybox-", dir=self.store.path.parent) as scratch:
            rootfs = busybox_rootfs(Path(scratch) / "rootfs")
            # A layout reference's tag cannot hold the `:` of a full reference, so the
            # import writes a temporary tag that is renamed afterwards.
            temporary = f"import-{os.getpid()}"
            import_rootfs(rootfs, f"oci:{self.store.path}:{temporary}", resolver=self.resolver)
        descriptor = self.store.find(temporary)
        if descriptor is None:
            raise BuildError(
                f"busybox import into {self.store.path} left no image tagged {temporary!r}",
                hint="Run `cachelab store check` on the image store and remove it if it is damaged.",
            )
        self.store.tag(tag, descriptor)
        self.store.untag(temporary)


def _renamed(resolved: ResolvedImage, reference: str) -> ResolvedImage:
    return ResolvedImage(reference, resolved.manifest, resolved.manifest_digest, resolved.config, resolved.media_type)
