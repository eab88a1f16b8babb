"""The JSON of an object that many watchers send, encoded once rather than once per watcher.

The watch cache hands every watcher of a change the very same object (watchcache.py), so
2,000 watchers of pods used to run ``json.dumps`` on each pod change 2,000 times on the API
server's one event loop (a third of its time in the watch fan-out). Here the bytes of the
last few objects are kept, keyed by identity: the entry holds the object itself, so its id
cannot be reused while cached, and cached objects are never changed (the watch cache's rule).
"""

from __future__ import annotations

import collections
import json
from typing import Any, Mapping

# Bytes of JSON kept at most: a change is fanned out to every watcher within a few loop
# turns, so a handful of recent objects is all that is ever asked for again.
BUDGET_BYTES = 8 * 1024 * 1024


class SharedJSON:
    def __init__(self, *, budget_bytes: int = BUDGET_BYTES) -> None:
        self._budget = budget_bytes
        self._held = 0
        self._recent: collections.OrderedDict[int, tuple[Mapping[str, Any], bytes]] = collections.OrderedDict()

    def dump(self, obj: Mapping[str, Any]) -> bytes:
        hit = self._recent.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        data = json.dumps(obj, separators=(",", ":")).encode()
        if len(data) <= self._budget:
            if hit is not None:  # the same id, another (dead) object: drop the stale entry
                self._held -= len(self._recent.pop(id(obj))[1])
            self._recent[id(obj)] = (obj, data)
            self._held += len(data)
            while self._held > self._budget:
                _, (_, old) = self._recent.popitem(last=False)
                self._held -= len(old)
        return data
