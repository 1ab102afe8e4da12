"""The OCI image layout store: `oci-layout`, `index.json` and `blobs/sha256/<hex>`.

Tags are the `org.opencontainers.image.ref.name` annotations of the descriptors in
`index.json`. Every write goes to a temporary file in the target directory and is
renamed into place after fsync, so a crash never leaves a partial blob or index.
Blobs are verified against their digest while written. Updates of `index.json`
hold a file lock (`index.json.lock`), so several processes can tag into one store.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from cachelab.oci import mediatypes
from cachelab.oci._files import atomic_link, atomic_write, read_chunks, sha256_digest, sha256_file
from cachelab.oci.errors import DigestMismatch, LayoutError

if TYPE_CHECKING:
    import filelock

logger = logging.getLogger(__name__)

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_VERSION = "1.0.0"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# link(2) errors that mean "copy instead": another file system, a file system
# without hard links, or the per-inode link limit.
_LINK_UNSUPPORTED = frozenset({errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK})

Descriptor = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """One inconsistency `LayoutStore.check` found."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class LayoutStore:
    """An OCI image layout directory, created on first write."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._index_lock: filelock.FileLock | None = None

    def __repr__(self) -> str:
        return f"LayoutStore({str(self.path)!r})"

    @property
    def _lock(self) -> filelock.FileLock:
        """The lock on index.json, made on first use because only writes and gc take it."""
        if self._index_lock is None:
            import filelock

            self._index_lock = filelock.FileLock(str(self.path / "index.json.lock"))
        return self._index_lock

    # -- setup ---------------------------------------------------------------

    def exists(self) -> bool:
        return (self.path / "oci-layout").is_file()

    def ensure(self) -> None:
        """Create the layout files when missing; an existing store is left as it is.

        Readers take `oci-layout` as the sign that a store exists, so it is
        written last, after `index.json`. Another process therefore finds either
        no store or one whose index it can read, never `oci-layout` alone.
        """
        if (self.path / "index.json").is_file() and self.exists():
            return
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        with self._lock:
            if not (self.path / "index.json").exists():
                self._write_index({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []})
            if not self.exists():
                layout = json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode()
                atomic_write(self.path / "oci-layout", [layout])

    def _require(self) -> None:
        if not self.exists():
            raise LayoutError(f"{self.path} is not an OCI image layout (no oci-layout file)")

    # -- blobs ---------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise LayoutError(f"invalid digest {digest!r} for layout {self.path}")
        return self.path / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def open_blob(self, digest: str) -> BinaryIO:
        """Open a blob for reading; raises LayoutError when it is absent."""
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise LayoutError(f"blob {digest} not found in layout {self.path}") from None

    def read_blob(self, digest: str) -> bytes:
        """Return a small blob's bytes (manifests, configs), verified against `digest`."""
        with self.open_blob(digest) as stream:
            data = stream.read()
        actual = sha256_digest(data)
        if actual != digest:
            raise DigestMismatch(digest, actual, where=f"blob in layout {self.path}")
        return data

    def write_blob(self, source: bytes | BinaryIO, digest: str | None = None) -> tuple[str, int]:
        """Store bytes or a stream as a blob; returns (digest, size).

        With `digest`, the content is verified against it and an existing blob is
        not written again.
        """
        self.ensure()
        if digest is not None and self.has_blob(digest):
            return digest, self.blob_path(digest).stat().st_size
        chunks = [source] if isinstance(source, bytes) else read_chunks(source)
        if digest is not None:
            return atomic_write(self.blob_path(digest), chunks, expected_digest=digest)
        # Unknown digest: stage under a temporary name, then rename to the digest.
        staging = self.path / "blobs" / "sha256" / f".staging-{os.getpid()}-{time.monotonic_ns()}"
        actual, size = atomic_write(staging, chunks)
        os.replace(staging, self.blob_path(actual))
        return actual, size

    def add_blob_file(self, path: str | os.PathLike[str], digest: str) -> int:
        """Copy a local file in as blob `digest` (verified); returns its size."""
        with open(path, "rb") as stream:
            return self.write_blob(stream, digest)[1]

    def link_blob_file(self, path: str | os.PathLike[str], digest: str) -> int:
        """Store a local file as blob `digest` by hard-linking it; returns its size.

        Nothing is read, so `digest` is trusted: pass only a digest computed from
        the file's bytes as they were written (a `LayerWriter` result), and never
        change the file afterwards, because the store shares its inode. A file on
        another file system is copied and verified instead.
        """
        self.ensure()
        target = self.blob_path(digest)
        if target.is_file():
            return target.stat().st_size
        try:
            return atomic_link(path, target)
        except OSError as error:
            if error.errno not in _LINK_UNSUPPORTED:
                raise
            logger.debug("cannot link %s into %s (%s); copying it", path, self.path, error)
        return self.add_blob_file(path, digest)

    # -- index and tags ------------------------------------------------------

    def read_index(self) -> dict[str, Any]:
        self._require()
        try:
            index = json.loads((self.path / "index.json").read_bytes())
        except FileNotFoundError:
            raise LayoutError(f"{self.path}/index.json is missing") from None
        except ValueError as error:
            raise LayoutError(f"{self.path}/index.json is not valid JSON: {error}") from None
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise LayoutError(f"{self.path}/index.json has no 'manifests' list")
        return index

    def _write_index(self, index: dict[str, Any]) -> None:
        data = json.dumps(index, indent=2, sort_keys=True).encode() + b"\n"
        atomic_write(self.path / "index.json", [data])

    def tag(self, name: str, descriptor: Descriptor) -> None:
        """Point tag `name` at a manifest descriptor, replacing an earlier one of that name."""
        self.ensure()
        entry = dict(descriptor)
        entry["annotations"] = {**entry.get("annotations", {}), REF_NAME: name}
        with self._lock:
            index = self.read_index()
            manifests = [m for m in index["manifests"] if _ref_name(m) != name]
            manifests.append(entry)
            index["manifests"] = manifests
            self._write_index(index)
        logger.debug("tagged %s as %s in %s", descriptor.get("digest"), name, self.path)

    def untag(self, name: str) -> bool:
        """Remove tag `name`; returns whether it existed. Blobs stay until `gc`."""
        with self._lock:
            index = self.read_index()
            kept = [m for m in index["manifests"] if _ref_name(m) != name]
            if len(kept) == len(index["manifests"]):
                return False
            index["manifests"] = kept
            self._write_index(index)
        return True

    def tags(self) -> list[str]:
        if not self.exists():
            return []
        return [name for m in self.read_index()["manifests"] if (name := _ref_name(m))]

    def find(self, identifier: str) -> Descriptor | None:
        """Return the index descriptor for a tag or a manifest digest, or None.

        A digest that is not in index.json but whose blob exists (a platform
        manifest inside a nested index) still resolves, with its media type read
        from the blob.
        """
        if not self.exists():
            return None
        manifests = self.read_index()["manifests"]
        key = "digest" if identifier.startswith("sha256:") else REF_NAME
        for descriptor in reversed(manifests):
            value = descriptor.get("digest") if key == "digest" else _ref_name(descriptor)
            if value == identifier:
                return descriptor
        if key == "digest" and self.has_blob(identifier):
            data = self.read_blob(identifier)
            try:
                document = json.loads(data)
            except ValueError:
                document = None
            media_type = document.get("mediaType") if isinstance(document, dict) else None
            return {"mediaType": media_type or mediatypes.OCI_MANIFEST, "digest": identifier, "size": len(data)}
        return None

    def put_manifest(self, manifest: bytes, media_type: str, *, tag: str | None = None) -> Descriptor:
        """Store a manifest or index blob and, with `tag`, tag it; returns its descriptor.

        The tag is written last, so a reader never sees a tag whose manifest is missing.
        """
        digest, size = self.write_blob(manifest)
        descriptor: Descriptor = {"mediaType": media_type, "digest": digest, "size": size}
        if tag is not None:
            self.tag(tag, descriptor)
        return descriptor

    # -- maintenance ---------------------------------------------------------

    def referenced_blobs(self) -> set[str]:
        """Digests reachable from index.json: manifests, nested indexes, configs, layers."""
        seen: set[str] = set()
        pending = list(self.read_index()["manifests"])
        while pending:
            descriptor = pending.pop()
            digest = descriptor.get("digest", "")
            if digest in seen:
                continue
            seen.add(digest)
            media_type = descriptor.get("mediaType", "")
            if mediatypes.is_manifest(media_type) or mediatypes.is_index(media_type):
                try:
                    document = json.loads(self.blob_path(digest).read_bytes())
                except (FileNotFoundError, ValueError, LayoutError):
                    continue
                pending.extend(document.get("manifests", []))
                if "config" in document:
                    pending.append(document["config"])
                pending.extend(document.get("layers", []))
        return seen

    def gc(self, *, keep_newer_than: float = 0.0) -> list[str]:
        """Delete blobs no tag reaches; returns the deleted digests.

        NOTE: a put in progress in another process has written its blobs but not
        yet its tag; pass `keep_newer_than` (seconds) to spare such young blobs.
        """
        removed: list[str] = []
        now = time.time()
        with self._lock:
            reachable = self.referenced_blobs()
            for path in self._blob_files():
                digest = "sha256:" + path.name
                if digest in reachable or now - path.stat().st_mtime < keep_newer_than:
                    continue
                path.unlink()
                removed.append(digest)
        logger.info("gc of %s removed %d blobs", self.path, len(removed))
        return removed

    def _blob_files(self) -> Iterator[Path]:
        directory = self.path / "blobs" / "sha256"
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                if not path.name.startswith("."):
                    yield path

    def check(self) -> list[Problem]:
        """Verify every blob's digest and every descriptor's digest and size.

        Returns the problems found; an empty list means the store is consistent.
        """
        problems: list[Problem] = []
        if not self.exists():
            return [Problem(str(self.path), "no oci-layout file: not an OCI image layout")]
        try:
            index = self.read_index()
        except LayoutError as error:
            return [Problem(str(self.path / "index.json"), str(error))]

        sizes: dict[str, int] = {}
        for path in self._blob_files():
            digest, size = sha256_file(path)
            sizes["sha256:" + path.name] = size
            if digest != "sha256:" + path.name:
                problems.append(Problem(str(path), f"content hashes to {digest}"))

        for descriptor, parent in self._walk(index["manifests"], "index.json"):
            digest = descriptor.get("digest", "")
            where = f"{parent} -> {digest}"
            if digest not in sizes:
                problems.append(Problem(where, "referenced blob is missing"))
            elif descriptor.get("size") != sizes[digest]:
                problems.append(
                    Problem(where, f"descriptor size {descriptor.get('size')} != blob size {sizes[digest]}")
                )
        return problems

    def _walk(self, roots: list[Descriptor], parent: str) -> Iterator[tuple[Descriptor, str]]:
        pending = [(d, parent) for d in roots]
        seen: set[str] = set()
        while pending:
            descriptor, where = pending.pop()
            yield descriptor, where
            digest = descriptor.get("digest", "")
            media_type = descriptor.get("mediaType", "")
            if digest in seen or not (mediatypes.is_manifest(media_type) or mediatypes.is_index(media_type)):
                continue
            seen.add(digest)
            try:
                document = json.loads(self.blob_path(digest).read_bytes())
            except (FileNotFoundError, ValueError, LayoutError):
                continue
            children = list(document.get("manifests", [])) + list(document.get("layers", []))
            if "config" in document:
                children.append(document["config"])
            pending.extend((child, digest) for child in children)

    def remove(self) -> None:
        """Delete the whole store directory."""
        shutil.rmtree(self.path, ignore_errors=True)


def check_new_layout_parent(path: str | os.PathLike[str]) -> None:
    """Raise LayoutError when the layout directory `path` is missing and so is its parent directory.

    Commands create a missing layout directory that the user names, but not
    its parents, so a mistyped path such as `/nonexistent/dir` fails instead
    of creating directories below the filesystem root. `LayoutStore.ensure`
    itself creates parents, which the default stores need on a first run.
    """
    directory = Path(path)
    if directory.exists() or directory.parent.is_dir():
        return
    raise LayoutError(
        f"OCI layout directory {directory} not found, and its parent directory {directory.parent} "
        "does not exist, so it cannot be created",
        hint=f"Create {directory.parent} first, or pass a layout directory whose parent exists.",
    )


def check_layout_destination(reference: str) -> None:
    """Raise LayoutError when `reference` is `oci:DIR...` and DIR and its parent directory are both missing.

    Commands call this for a destination that the user names. A registry
    reference passes unchecked.
    """
    from cachelab.oci.reference import LayoutReference, parse_reference

    parsed = parse_reference(reference)
    if isinstance(parsed, LayoutReference):
        check_new_layout_parent(parsed.path)


def _ref_name(descriptor: Descriptor) -> str | None:
    annotations = descriptor.get("annotations") or {}
    return annotations.get(REF_NAME)
