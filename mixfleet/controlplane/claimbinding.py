"""The claim half of a scheduler binding: a pod's claims not yet bound to a node are bound
to the pod's node in the same store transaction as the pod (api/claims.py).

Each claim write is a compare-and-swap on the claim as read here, just before the commit,
so two bindings racing for one claim (two schedulers, or two batches) cannot both win: the
loser's whole transaction fails and its pod is planned again, now seeing the claim bound.
A claim already bound to the pod's node needs no write (the node never changes once set);
one bound elsewhere, missing or being deleted refuses the binding (:class:`ClaimRefused`).
Bindings of one batch that share a claim write it once (a transaction touches a key once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from mixfleet.api import claims, kinds
from mixfleet.api.types import ObjView
from mixfleet.controlplane.objects import decode, encode
from mixfleet.store.base import KV, Op, Store

_KIND = kinds.by_kind(claims.KIND)


class ClaimRefused(Exception):
    """A pod cannot be bound to its node because of one of its claims."""

    def __init__(self, pod: str, claim: str, why: str) -> None:
        super().__init__(f'pod "{pod}": persistentvolumeclaim "{claim}" {why}')
        self.pod = pod
        self.claim = claim


def claim_count(pod: ObjView) -> int:
    """How many store operations binding ``pod``'s claims may add (for batch sizing)."""
    return len(claims.pod_claims(pod))


async def binding_ops(store: Store, bindings: Sequence[tuple[ObjView, str]]) -> list[tuple[str, Op]]:
    """(claim name, store op) for each claim the (pod, node) bindings bind; raises ClaimRefused."""
    wanted: dict[str, tuple[str, str, str]] = {}  # store key -> (claim name, node, pod name)
    order: list[tuple[str, str, str, str]] = []
    for pod, node in bindings:
        md = pod.get("metadata") or {}
        ns = md.get("namespace") or "default"
        for name in claims.pod_claims(pod):
            order.append((_KIND.key(name, ns), name, node, str(md.get("name", ""))))
    if not order:
        return []
    keys = sorted({key for key, _, _, _ in order})
    read = dict(zip(keys, await asyncio.gather(*(store.get(k) for k in keys))))
    ops: list[tuple[str, Op]] = []
    for key, name, node, pod_name in order:
        planned = wanted.get(key)
        if planned is not None:
            if planned[1] != node:
                raise ClaimRefused(pod_name, name, f'is being bound to node "{planned[1]}" by pod "{planned[2]}"')
            continue
        wanted[key] = (name, node, pod_name)
        op = _bind(read[key], key, name, node, pod_name)
        if op is not None:
            ops.append((name, op))
    return ops


def _bind(kv: KV | None, key: str, name: str, node: str, pod_name: str) -> Op | None:
    if kv is None:
        raise ClaimRefused(pod_name, name, "not found")
    claim = decode(kv)
    if claims.deleting(claim):
        raise ClaimRefused(pod_name, name, "is being deleted")
    bound = claims.selected_node(claim)
    if bound == node:
        return None
    if bound is not None:
        raise ClaimRefused(pod_name, name, f'is bound to node "{bound}"')
    return Op.update(key, encode(claims.bound_to(claim, node)), kv.mod_revision)
