"""Object (de)serialisation between the API's dicts and the store's bytes, and the read-only
form in which caches hand objects out.

The stored JSON never carries ``metadata.resourceVersion``: it is the key's mod_revision,
filled in on every read, so it can never disagree with the store.

Objects in the watch cache and the informers are shared by every reader (API watchers,
the scheduler, each controller) and must never be changed: a reader that wants to change
one copies it first. They are typed read-only (``api.types.ObjView``), and with
``MIXFLEET_FROZEN_CACHES=1`` (the test suites set it) they are also *frozen*: dicts and
lists whose mutating methods raise ``TypeError``, so a reader that forgets to copy fails
where it does so. ``copy.deepcopy`` of a frozen object, ``dict(obj)`` and ``{**obj}`` give
ordinary, writable containers. Freezing is off by default: it doubles the cost of decoding
and makes every dict a tracked container for the garbage collector, which cost ~10% of the
end-to-end benchmark's throughput (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import os
from typing import Any, NoReturn

from mixfleet.api.types import Obj
from mixfleet.store.base import KV


class _ReadOnly:
    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "this object is shared by a cache and must not be changed: copy it first "
            "(copy.deepcopy) and change the copy"
        )


class FrozenDict(dict[str, Any], _ReadOnly):
    """A dict that refuses changes (see the module docstring)."""

    __slots__ = ()
    __setitem__ = __delitem__ = clear = pop = popitem = update = __ior__ = _ReadOnly._refuse  # type: ignore[assignment]

    def setdefault(self, key: str, default: Any = None) -> Any:  # reading is fine
        if key in self:
            return self[key]
        self._refuse()

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


class FrozenList(list[Any], _ReadOnly):
    """A list that refuses changes (see the module docstring)."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _ReadOnly._refuse  # type: ignore[assignment]
    append = extend = insert = pop = remove = clear = sort = reverse = _ReadOnly._refuse  # type: ignore[assignment]

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)

    def __reduce__(self) -> Any:
        return (list, (list(self),))


def caches_frozen() -> bool:
    """Whether caches should hand out frozen objects (``MIXFLEET_FROZEN_CACHES=1``)."""
    return os.environ.get("MIXFLEET_FROZEN_CACHES", "") not in ("", "0")


def _frozen_list(items: list[Any]) -> FrozenList:
    return FrozenList([_frozen_list(v) if type(v) is list else v for v in items])


def _freeze_hook(d: dict[str, Any]) -> FrozenDict:
    # json calls this innermost first, so nested objects are frozen already; only lists
    # (which json builds without a hook) are left to convert.
    for k, v in d.items():
        if type(v) is list:
            d[k] = _frozen_list(v)
    return FrozenDict(d)


def freeze(value: Any) -> Any:
    """A frozen deep copy of a JSON-shaped value (frozen parts are reused as they are)."""
    if isinstance(value, (FrozenDict, FrozenList)):
        return value
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList([freeze(v) for v in value])
    return value


def thaw(value: Any) -> Any:
    """An ordinary, writable deep copy of a (possibly frozen) JSON-shaped value."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value


def encode(obj: Any) -> bytes:
    # Copy only what changes: a deep copy of every object written dominated bulk writes.
    body = dict(obj)
    if isinstance(body.get("metadata"), dict):
        body["metadata"] = {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode(
    kv: KV | None = None, *, value: bytes | None = None, revision: int = 0, frozen: bool = False
) -> Obj:
    """The object in ``kv`` (or ``value`` at ``revision``), resourceVersion filled in;
    ``frozen``: read-only, for caches that share it."""
    raw = kv.value if kv is not None else value
    rev = kv.mod_revision if kv is not None else revision
    if not frozen:
        obj: Obj = json.loads(raw or b"{}")
        obj.setdefault("metadata", {})["resourceVersion"] = str(rev)
        return obj
    top: dict[str, Any] = dict(json.loads(raw or b"{}", object_hook=_freeze_hook))
    top["metadata"] = FrozenDict({**(top.get("metadata") or {}), "resourceVersion": str(rev)})
    return FrozenDict(top)


def with_revision(obj: Any, revision: int) -> Obj:
    """A copy of ``obj`` whose resourceVersion is ``revision``, sharing everything else (and
    frozen like ``obj``)."""
    m = {**(obj.get("metadata") or {}), "resourceVersion": str(revision)}
    if isinstance(obj, FrozenDict):
        return FrozenDict({**obj, "metadata": FrozenDict(m)})
    return {**obj, "metadata": m}


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
