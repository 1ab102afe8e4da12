"""Axis labels with units for the columns of the record tables."""

from __future__ import annotations

# Labels for columns whose name alone does not show the quantity or its unit.
COLUMN_LABELS: dict[str, str] = {
    "wall_s": "wall time (s)",
    "resolve_s": "base resolution time (s)",
    "download_s": "download time (s)",
    "unpack_s": "unpack time (s)",
    "hash_s": "hashing time (s)",
    "probe_s": "cache probe time (s)",
    "execute_s": "execution time (s)",
    "snapshot_s": "snapshot time (s)",
    "push_s": "push time (s)",
    "save_s": "save time (s)",
    "bytes_downloaded": "bytes downloaded",
    "bytes_unpacked": "bytes unpacked",
    "bytes_pushed": "bytes pushed",
    "bytes_hashed": "bytes hashed",
}


def axis_label(column: str) -> str:
    """Return a label with its unit for `column`, such as "wall time (s)" for `wall_s`.

    Columns not in `COLUMN_LABELS` that end in `_s` get "(s)" after their name,
    and any other column is returned unchanged.
    """
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    if column.endswith("_s"):
        return f"{column[:-2].replace('_', ' ')} (s)"
    return column
