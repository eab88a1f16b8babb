"""JSON that refuses a key given twice in one object, as the YAML loader does: Python's
json (like most parsers) keeps the last one silently, so `{"spec": {...}, "spec": {...}}`
applied something other than what a reader of the file sees."""

from __future__ import annotations

import json
from typing import Any


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f'duplicate key "{key}"')
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return out


def loads(text: str | bytes) -> Any:
    """json.loads, raising DuplicateKeyError for a key given twice in one object."""
    return json.loads(text, object_pairs_hook=_pairs)
