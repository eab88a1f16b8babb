"""Aligned text tables like kubectl's: columns padded to the widest cell, three spaces apart,
and the last column never padded (so lines carry no trailing spaces)."""

from __future__ import annotations

from typing import Sequence

GAP = "   "


def widths(rows: Sequence[Sequence[str]]) -> list[int]:
    out: list[int] = []
    for row in rows:
        for i, cell in enumerate(row):
            if i == len(out):
                out.append(0)
            out[i] = max(out[i], len(cell))
    return out


def format_row(row: Sequence[str], col_widths: Sequence[int]) -> str:
    cells = [
        cell.ljust(col_widths[i]) if i < len(col_widths) else cell
        for i, cell in enumerate(row[:-1])
    ]
    # rstrip: an empty last cell must not leave the padding of the cells before it.
    return GAP.join([*cells, row[-1]]).rstrip() if row else ""


def render(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The whole table, header first, one line per row, with a trailing newline."""
    all_rows = [list(headers), *[list(r) for r in rows]]
    w = widths(all_rows)
    return "".join(format_row(r, w) + "\n" for r in all_rows)
