"""The claims the scheduler knows (api/claims.py), and the node bindings it has assumed.

A claim waiting for its first pod is bound by the scheduler's binding of that pod; until
the store shows it bound, the decision is *assumed* here, so that the next pod of the claim
(the next replica of the same batch, say) goes to the same node rather than binding the
claim a second time elsewhere. An assumption is dropped with the pod that made it (its
binding lost a compare-and-swap race) and is outranked by the store's view once known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mixfleet.api import claims
from mixfleet.api.pods import key as pod_uid

ClaimKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    node: str | None  # the node it is bound to; None while it waits for its first pod
    deleting: bool


def claim_key(claim: Mapping[str, Any]) -> ClaimKey:
    md = claim.get("metadata") or {}
    return (md.get("namespace") or "default", str(md.get("name", "")))


class ClaimBook:
    def __init__(self, objs: Iterable[Mapping[str, Any]] = ()) -> None:
        self.known: dict[ClaimKey, ClaimFacts] = {}
        self._assumed: dict[ClaimKey, tuple[str, str]] = {}  # claim -> (node, uid of the pod)
        self._by_pod: dict[str, list[ClaimKey]] = {}
        for obj in objs:
            self.observe(obj)

    def observe(self, claim: Mapping[str, Any]) -> bool:
        """Take a claim's current object; True if what placement reads changed."""
        key = claim_key(claim)
        facts = ClaimFacts(claims.selected_node(claim), claims.deleting(claim))
        if self.known.get(key) == facts:
            return False
        self.known[key] = facts
        return True

    def remove(self, claim: Mapping[str, Any]) -> None:
        self.known.pop(claim_key(claim), None)

    def node_of(self, key: ClaimKey) -> str | None:
        """The node the claim is bound to, as stored or as assumed; None: not bound yet."""
        facts = self.known.get(key)
        if facts is not None and facts.node is not None:
            return facts.node
        assumed = self._assumed.get(key)
        return assumed[0] if assumed is not None else None

    def assume(self, pod: Mapping[str, Any], node: str) -> None:
        """``pod`` goes to ``node``: each of its claims not bound yet is bound there."""
        ns = (pod.get("metadata") or {}).get("namespace") or "default"
        uid = pod_uid(pod)
        for name in claims.pod_claims(pod):
            key = (ns, name)
            if self.node_of(key) is None:
                self._assumed[key] = (node, uid)
                self._by_pod.setdefault(uid, []).append(key)

    def forget(self, uid: str) -> None:
        for key in self._by_pod.pop(uid, ()):
            if self._assumed.get(key, ("", ""))[1] == uid:
                del self._assumed[key]
