"""nodeSelector and node affinity (In, NotIn, Exists, DoesNotExist, Gt, Lt).

Decided per class from the class's labels, except when a required selector reads a
per-node key (kubernetes.io/hostname, metadata.name): then it is checked per node.
Preferred terms score per class; a preferred term on a per-node key never matches there
(hostname preferences are not supported: pin with a required term instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mixfleet.scheduler.nodes import ClassFacts
from mixfleet.scheduler.plugins.base import ClassState, Context
from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.status import NODE_SELECTOR, Status

if TYPE_CHECKING:
    from mixfleet.scheduler.snapshot import Snapshot


def required_match(req: PodRequirements, labels: Mapping[str, str]) -> bool:
    if req.node_selector is not None and not req.node_selector.matches(labels):
        return False
    return not req.required_terms or any(t.matches(labels) for t in req.required_terms)


class NodeAffinity:
    name = "NodeAffinity"
    weight_name = "node_affinity"

    def filter_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None:
        if req.selector_per_node or required_match(req, facts.label_map):
            return None
        return Status.unresolvable(NODE_SELECTOR)

    def active(self, req: PodRequirements) -> bool:
        return req.selector_per_node

    def filter_node(self, req: PodRequirements, node: int, snap: Snapshot) -> Status | None:
        return None if required_match(req, snap.nodes[node].labels) else Status.unresolvable(NODE_SELECTOR)

    def score_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> float:
        total = sum(w for w, _ in req.preferred_terms)
        if not total:
            return 0.0
        labels = facts.label_map
        return 100.0 * sum(w for w, t in req.preferred_terms if t.matches(labels)) / total


PLUGIN = NodeAffinity()
