"""A tiny writer for ``describe`` output: ``Key:  value`` blocks whose values line up, nested
sections, and indented tables, as kubectl prints them."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from mixfleet.mixctl.printers import table

NONE = "<none>"


class Doc:
    def __init__(self) -> None:
        self._lines: list[str] = []

    def fields(self, pairs: Sequence[tuple[str, object]], *, indent: int = 0) -> None:
        """``Key:`` then the value, values aligned within this block."""
        width = max((len(k) for k, _ in pairs), default=0) + 2
        pad = " " * indent
        for key, value in pairs:
            text = _text(value)
            head = f"{pad}{key + ':':<{width}}"
            lines = text.split("\n") or [""]
            self._lines.append((head + lines[0]).rstrip())
            # Multi-line values (labels, taints) continue under the first value.
            self._lines.extend((" " * len(head) + more).rstrip() for more in lines[1:])

    def line(self, text: str = "", *, indent: int = 0) -> None:
        self._lines.append(" " * indent + text if text else "")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], *, indent: int = 2, rule: bool = False) -> None:
        """An aligned table; ``rule`` adds kubectl's ``----`` line under the headers."""
        all_rows: list[Sequence[str]] = [headers]
        if rule:
            all_rows.append(["-" * len(h) for h in headers])
        all_rows.extend(rows)
        w = table.widths(all_rows)
        for r in all_rows:
            self._lines.append(" " * indent + table.format_row(list(r), w))

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _text(value: object) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return NONE
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def key_values(m: Mapping[str, Any] | None) -> str:
    """``a=b`` per line, sorted, as kubectl lists labels."""
    return "\n".join(f"{k}={v}" for k, v in sorted((m or {}).items())) if m else NONE
