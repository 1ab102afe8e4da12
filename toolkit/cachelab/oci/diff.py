"""Layer-by-layer comparison of two images.

Layers are paired by position. A pair with the same diff_id is shared: the same
tar content, whatever the compression. For any other pair both tars are read and
their entries compared by path. A rebuild that produced different bytes then
shows which files differ and how: added, removed, or changed in kind, mode,
owner, size, content, link target or mtime. A layer that only one image has
lists all its paths as added or removed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from cachelab.oci.image import Image, Layer
from cachelab.oci.inspect import layer_history
from cachelab.oci.tarindex import TarEntry, scan_layer

LayerStatus = Literal["shared", "differs", "only-a", "only-b"]
PathStatus = Literal["added", "removed", "changed"]

# The entry fields compared, in the order a change lists them.
COMPARED_FIELDS = ("kind", "mode", "owner", "size", "content", "link", "mtime")


@dataclass(frozen=True, slots=True)
class PathChange:
    """One path that differs between two paired layers; `fields` lists what changed."""

    path: str
    status: PathStatus
    fields: tuple[str, ...] = ()
    before: TarEntry | None = None
    after: TarEntry | None = None


@dataclass
class LayerDiff:
    """One pair of layers at `index`; digests are None for the side that has no layer there."""

    index: int
    status: LayerStatus
    digest_a: str | None
    digest_b: str | None
    diff_id_a: str | None
    diff_id_b: str | None
    created_by_a: str | None = None
    created_by_b: str | None = None
    changes: list[PathChange] = field(default_factory=list)

    @property
    def same_blob(self) -> bool:
        """Whether both sides are the same compressed blob, not only the same tar."""
        return self.digest_a is not None and self.digest_a == self.digest_b


@dataclass
class ImageDiff:
    """The comparison of image A with image B."""

    reference_a: str
    reference_b: str
    manifest_digest_a: str
    manifest_digest_b: str
    config_digest_a: str
    config_digest_b: str
    layers: list[LayerDiff] = field(default_factory=list)

    @property
    def shared_layers(self) -> int:
        return sum(1 for layer in self.layers if layer.status == "shared")

    @property
    def identical_layers(self) -> bool:
        """Whether both images have the same layers in the same order."""
        return all(layer.status == "shared" for layer in self.layers)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["shared_layers"] = self.shared_layers
        document["identical_layers"] = self.identical_layers
        return document


def entry_index(layer: Layer) -> dict[str, TarEntry]:
    """Read a layer and return its entries by path; a later entry for a path replaces an earlier one."""
    entries: dict[str, TarEntry] = {}

    def keep(entry: TarEntry) -> None:
        entries[entry.path] = entry

    with layer.open() as blob:
        scan_layer(blob, visit=keep, hash_content=True, layer_digest=layer.digest)
    return entries


def changed_fields(before: TarEntry, after: TarEntry) -> tuple[str, ...]:
    """Return the names from COMPARED_FIELDS in which two entries for one path differ."""
    pairs = {
        "kind": (before.kind, after.kind),
        "mode": (before.mode, after.mode),
        "owner": ((before.uid, before.gid), (after.uid, after.gid)),
        "size": (before.size, after.size),
        "content": (before.content_digest, after.content_digest),
        "link": (before.linkname, after.linkname),
        "mtime": (before.mtime, after.mtime),
    }
    return tuple(name for name in COMPARED_FIELDS if pairs[name][0] != pairs[name][1])


def compare_entries(before: dict[str, TarEntry], after: dict[str, TarEntry]) -> list[PathChange]:
    """Return the paths added, removed or changed from `before` to `after`, sorted by path."""
    changes: list[PathChange] = []
    for path in sorted(before.keys() | after.keys()):
        old = before.get(path)
        new = after.get(path)
        if old is None:
            changes.append(PathChange(path, "added", after=new))
        elif new is None:
            changes.append(PathChange(path, "removed", before=old))
        else:
            fields = changed_fields(old, new)
            if fields:
                changes.append(PathChange(path, "changed", fields, old, new))
    return changes


def diff_images(image_a: Image, image_b: Image) -> ImageDiff:
    """Compare two images layer by layer; only layers whose diff_ids differ are read."""
    layers_a = image_a.layers()
    layers_b = image_b.layers()
    history_a = layer_history(list(image_a.config_json.get("history") or []), len(layers_a))
    history_b = layer_history(list(image_b.config_json.get("history") or []), len(layers_b))
    result = ImageDiff(
        image_a.reference, image_b.reference, image_a.manifest_digest, image_b.manifest_digest,
        image_a.manifest_json["config"]["digest"], image_b.manifest_json["config"]["digest"],
    )
    for index in range(max(len(layers_a), len(layers_b))):
        a = layers_a[index] if index < len(layers_a) else None
        b = layers_b[index] if index < len(layers_b) else None
        pair = LayerDiff(
            index, _status(a, b),
            a.digest if a else None, b.digest if b else None,
            a.diff_id if a else None, b.diff_id if b else None,
            history_a[index] if a else None, history_b[index] if b else None,
        )
        if pair.status != "shared":
            before = entry_index(a) if a is not None else {}
            after = entry_index(b) if b is not None else {}
            pair.changes = compare_entries(before, after)
        result.layers.append(pair)
    return result


def _status(a: Layer | None, b: Layer | None) -> LayerStatus:
    if a is None:
        return "only-b"
    if b is None:
        return "only-a"
    return "shared" if a.diff_id == b.diff_id else "differs"
