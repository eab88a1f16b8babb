"""Turns store watch events into API watch events for one kind and selector.

An object that moves into a selector is ADDED for that watcher and one that moves out is
DELETED, as in Kubernetes: a node agent watching ``spec.nodeName=n1`` sees a pod appear the
moment it is bound there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator

from api import kinds
from controlplane.objects import Obj, decode
from controlplane.registry import ObjectFilter, Registry
from store.base import EventType


@dataclass(frozen=True, slots=True)
class ApiEvent:
    type: str  # ADDED | MODIFIED | DELETED
    object: Obj
    revision: int


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
        if ev.type is EventType.DELETE:
            if prev is not None and match(prev):
                yield ApiEvent("DELETED", prev, ev.revision)
            continue
        cur = decode(ev.kv)
        now_in, was_in = match(cur), prev is not None and match(prev)
        if now_in and was_in:
            yield ApiEvent("MODIFIED", cur, ev.revision)
        elif now_in:
            yield ApiEvent("ADDED", cur, ev.revision)
        elif was_in:
            yield ApiEvent("DELETED", cur, ev.revision)
