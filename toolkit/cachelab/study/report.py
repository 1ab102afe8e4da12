"""Plain-text rendering of the summary tables for the terminal."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

Formatter = Callable[[object], str]


def format_stage_table(table: pd.DataFrame) -> str:
    """Render `stage_table` output as aligned columns, sizes in SI units."""
    columns: Sequence[tuple[str, str, Formatter]] = (
        ("strategy", "strategy", _text),
        ("stage_index", "stage", _text),
        ("stage_name", "name", _text),
        ("action", "action", _text),
        ("wall_s", "wall", _seconds),
        ("bytes_downloaded", "downloaded", _size),
        ("bytes_unpacked", "unpacked", _size),
        ("cache_hits", "hits", _text),
        ("cache_misses", "misses", _text),
    )
    return _render(table, columns)


def format_ratios(table: pd.DataFrame) -> str:
    """Render `strategy_ratios` output, one line per strategy compared with the baseline."""
    columns: Sequence[tuple[str, str, Formatter]] = (
        ("strategy", "strategy", _text),
        ("baseline", "baseline", _text),
        ("other_median", "median", _seconds),
        ("baseline_median", "baseline median", _seconds),
        ("ratio", "ratio", _ratio),
        ("ci_low", "CI low", _ratio),
        ("ci_high", "CI high", _ratio),
        ("verdict", "verdict", _text),
        ("other_n", "n", _text),
    )
    return _render(table, columns)


def _render(table: pd.DataFrame, columns: Sequence[tuple[str, str, Formatter]]) -> str:
    lines = [[header for _, header, _ in columns]]
    for row in table.to_dict(orient="records"):
        lines.append([format_value(row[name]) for name, _, format_value in columns])
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]
    rendered = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(rendered)


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _text(value: object) -> str:
    return "-" if _missing(value) else str(value)


def _seconds(value: object) -> str:
    return "-" if _missing(value) else f"{float(value):.3f} s"  # type: ignore[arg-type]


def _ratio(value: object) -> str:
    return "-" if _missing(value) else f"{float(value):.3f}"  # type: ignore[arg-type]


def _size(value: object) -> str:
    if _missing(value):
        return "-"
    count = float(value)  # type: ignore[arg-type]
    for unit in ("B", "kB", "MB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.2f} GB"
