"""Object (de)serialisation between the API's dicts and the store's bytes.

The stored JSON never carries ``metadata.resourceVersion``: it is the key's mod_revision,
filled in on every read, so it can never disagree with the store.
"""

from __future__ import annotations

import json
from typing import Any

from mixfleet.api.types import Obj
from mixfleet.store.base import KV


def encode(obj: Obj) -> bytes:
    # Copy only what changes: a deep copy of every object written dominated bulk writes.
    body = dict(obj)
    if isinstance(body.get("metadata"), dict):
        body["metadata"] = {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode(kv: KV | None = None, *, value: bytes | None = None, revision: int = 0) -> Obj:
    raw = kv.value if kv is not None else value
    obj: Obj = json.loads(raw or b"{}")
    rev = kv.mod_revision if kv is not None else revision
    obj.setdefault("metadata", {})["resourceVersion"] = str(rev)
    return obj


def meta(obj: Obj) -> dict[str, Any]:
    return obj.setdefault("metadata", {})


def ref_str(obj: Obj) -> str:
    m = obj.get("metadata", {})
    ns = m.get("namespace")
    return f"{obj.get('kind')}/{ns + '/' if ns else ''}{m.get('name')}"


def dig(obj: Any, path: str) -> Any:
    """Value at a dotted path (``spec.nodeName``), or None."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur
