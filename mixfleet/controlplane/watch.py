"""Turns store watch events into API watch events for one kind and selector.

An object that moves into a selector is ADDED for that watcher and one that moves out is
DELETED, as in Kubernetes: a node agent watching ``spec.nodeName=n1`` sees a pod appear the
moment it is bound there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator

from mixfleet.api import kinds
from mixfleet.api.types import Obj
from mixfleet.controlplane.objects import decode
from mixfleet.controlplane.registry import ObjectFilter, Registry
from mixfleet.store.base import EventType


@dataclass(frozen=True, slots=True)
class ApiEvent:
    type: str  # ADDED | MODIFIED | DELETED
    object: Obj
    revision: int


def selector_event(
    *, was_in: bool, now_in: bool, prev: Obj | None, cur: Obj | None, revision: int
) -> ApiEvent | None:
    """What a watcher sees of one change: an object moving into its selector is ADDED, one
    moving out (or deleted) is DELETED, one staying in is MODIFIED; otherwise nothing."""
    if now_in and was_in:
        return ApiEvent("MODIFIED", cur, revision)  # type: ignore[arg-type]
    if now_in:
        return ApiEvent("ADDED", cur, revision)  # type: ignore[arg-type]
    if was_in:
        return ApiEvent("DELETED", cur if cur is not None else prev, revision)  # type: ignore[arg-type]
    return None


async def watch(
    registry: Registry,
    kind: str,
    *,
    namespace: str = "",
    all_namespaces: bool = False,
    label_selector: str = "",
    field_selector: str = "",
    from_revision: int = 0,
) -> AsyncIterator[ApiEvent]:
    """from_revision 0: ADDED for every current object, then changes. n > 0: changes with
    revision >= n (store.base.CompactedError if n is too old)."""
    k = kinds.lookup(kind)
    match = ObjectFilter(label_selector, field_selector)
    ns = None if all_namespaces else (namespace or "default")
    if from_revision <= 0:
        items, rev = await registry.list(
            k.kind,
            namespace=namespace,
            all_namespaces=all_namespaces,
            label_selector=label_selector,
            field_selector=field_selector,
        )
        for obj in items:
            yield ApiEvent("ADDED", obj, int(obj["metadata"]["resourceVersion"]))
        from_revision = rev + 1
    async for ev in registry.store.watch(k.prefix(ns), from_revision):
        prev_raw = ev.prev_value or (ev.kv.value if ev.type is EventType.DELETE else None)
        prev = decode(value=prev_raw, revision=ev.revision) if prev_raw else None
        cur = None if ev.type is EventType.DELETE else decode(ev.kv)
        out = selector_event(
            was_in=prev is not None and match(prev),
            now_in=cur is not None and match(cur),
            prev=prev,
            cur=cur,
            revision=ev.revision,
        )
        if out is not None:
            yield out
