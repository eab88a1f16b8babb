"""How big and how deep a decoded document really is, without expanding it.

A YAML alias makes two places hold the very same Python object, so a document of a few
hundred bytes can stand for billions of values; anything that walks it (validation, defaults,
JSON encoding) does all of that work. Here each distinct object is measured once (memoised by
identity), so the measure of an alias bomb costs as little as its text, and the document is
refused before anything walks it.
"""

from __future__ import annotations

from typing import Any

from mixfleet.api import limits


class TooLargeError(ValueError):
    """The document is nested too deep or stands for too many values."""


def check(doc: Any, *, max_depth: int = limits.MAX_NESTING_DEPTH,
          max_values: int = limits.MAX_DOCUMENT_VALUES) -> None:
    """Raise TooLargeError when ``doc`` nests deeper than ``max_depth`` or holds more than
    ``max_values`` values with every shared (aliased) part counted each time it appears."""
    sizes: dict[int, tuple[int, int]] = {}  # id -> (values, depth), for containers

    def measure(obj: Any, depth: int) -> tuple[int, int]:
        if not isinstance(obj, (dict, list)):
            return 1, 0
        if depth > max_depth:
            raise TooLargeError(f"nested more than {max_depth} deep")
        known = sizes.get(id(obj))
        if known is not None:
            return known
        children = obj.values() if isinstance(obj, dict) else obj
        total, deepest = 1, 0
        for child in children:
            n, d = measure(child, depth + 1)
            total += n
            deepest = max(deepest, d + 1)
            if total > max_values:
                raise TooLargeError(
                    f"stands for more than {max_values:,} values (YAML aliases count each time "
                    "they are used)"
                )
        sizes[id(obj)] = (total, deepest)
        return total, deepest

    measure(doc, 0)
