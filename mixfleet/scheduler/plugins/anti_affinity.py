"""podAntiAffinity on kubernetes.io/hostname: replicas kept off nodes that already run a
matching pod (required), or scored down there (preferred, by the matched terms' weight).

The snapshot's (namespace, label, value) -> node counts index finds the nodes holding a
matching pod without looking at every pod; only selectors with no equality part fall back
to the pods on the node. The reverse direction (an existing pod's anti-affinity keeping
this one out) is not evaluated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixfleet.scheduler.requirements import PodRequirements, PodTerm
from mixfleet.scheduler.selectors import equality_pairs
from mixfleet.scheduler.status import ANTI_AFFINITY, Status

if TYPE_CHECKING:
    from mixfleet.scheduler.plan import Option
    from mixfleet.scheduler.snapshot import Snapshot


def term_matches_on(term: PodTerm, node: int, snap: Snapshot) -> bool:
    """Does ``node`` run a pod that ``term`` selects?"""
    pairs = equality_pairs(term.selector)
    exact = len(pairs) == len(term.selector.requirements) == 1
    for ns in term.namespaces:
        if pairs:
            key, value = pairs[0]
            if not snap.label_index.get((ns, key, value), {}).get(node):
                continue
            if exact:
                return True
        for charge in snap.pods_on[node].values():
            if charge.namespace == ns and term.selector.matches(dict(charge.labels)):
                return True
    return False


class AntiAffinity:
    name = "PodAntiAffinity"
    weight_name = "anti_affinity"

    def active(self, req: PodRequirements) -> bool:
        return bool(req.anti_required)

    def filter_node(self, req: PodRequirements, node: int, snap: Snapshot) -> Status | None:
        if any(term_matches_on(t, node, snap) for t in req.anti_required):
            return Status.unschedulable(ANTI_AFFINITY)
        return None


class AntiAffinityScore:
    name = "PodAntiAffinityScore"
    weight_name = "anti_affinity"

    def active(self, req: PodRequirements) -> bool:
        return bool(req.anti_preferred)

    def bound(self, req: PodRequirements, option: Option) -> float:
        return 100.0

    def score_node(self, req: PodRequirements, option: Option, node: int, snap: Snapshot) -> float:
        """100 with no conflicting replica, down to 0 when every preferred term matches."""
        total = sum(t.weight for t in req.anti_preferred)
        hit = sum(t.weight for t in req.anti_preferred if term_matches_on(t, node, snap))
        return 100.0 * (1 - hit / total) if total else 100.0


PLUGIN = AntiAffinity()
SCORE = AntiAffinityScore()
