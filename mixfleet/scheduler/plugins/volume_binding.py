"""Node-local claims (Kubernetes' VolumeBinding plugin for local volumes that wait for
their first consumer): a pod whose claim is bound to a node goes to that node only.

The pre-filter refuses, for every node at once, a pod naming a claim that does not exist or
is being deleted (``persistentvolumeclaim "data" not found``, Kubernetes' words). The
node filter refuses every node but the one a claim is bound to: ``node(s) had volume node
affinity conflict``, as Kubernetes says of a local volume's node affinity. A claim not bound
yet fits any node; the scheduler loop binds it with the pod (controlplane/claimbinding.py).
Checked per node, before resources: the bound node is a name, not a class fact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.status import CLAIM_DELETING, CLAIM_NOT_FOUND, VOLUME_NODE_CONFLICT, Status

if TYPE_CHECKING:
    from mixfleet.scheduler.snapshot import Snapshot


def prefilter(req: PodRequirements, snap: Snapshot) -> Status | None:
    """Whether some claim of the pod rules out every node (missing or being deleted)."""
    for name in req.claims:
        facts = snap.claims.known.get((req.namespace, name))
        if facts is None:
            return Status.unschedulable(CLAIM_NOT_FOUND.format(name=name))
        if facts.deleting:
            return Status.unschedulable(CLAIM_DELETING.format(name=name))
    return None


class VolumeBinding:
    name = "VolumeBinding"

    def active(self, req: PodRequirements) -> bool:
        return bool(req.claims)

    def filter_node(self, req: PodRequirements, node: int, snap: Snapshot) -> Status | None:
        here = snap.nodes[node].name
        for name in req.claims:
            bound = snap.claims.node_of((req.namespace, name))
            if bound is not None and bound != here:
                return Status.unresolvable(VOLUME_NODE_CONFLICT)
        return None


PLUGIN = VolumeBinding()
