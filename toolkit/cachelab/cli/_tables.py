"""Plain-text tables and sizes for the inspection commands."""

from __future__ import annotations

from collections.abc import Sequence

ELLIPSIS = "\u2026"


def human_size(size: int | None) -> str:
    """Return a byte count with a binary unit (B, KiB, MiB, GiB, TiB), or "-" for None."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def shorten(text: str | None, width: int) -> str:
    """Return `text` cut to `width` characters with an ellipsis, or "-" for None or empty."""
    if not text:
        return "-"
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return rows as left-aligned columns separated by two spaces, header first."""
    table = [list(header)] + [list(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
    return "\n".join(lines) + "\n"
