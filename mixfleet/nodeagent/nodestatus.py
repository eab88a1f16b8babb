"""Keeping this node's Node object and Lease current in the control plane.

The Lease is renewed every heartbeat (cheap, one small write); the Node is rewritten only
when its facts, images or conditions change, comparing without heartbeat times. Fields other
writers own (``spec.taints`` and ``spec.unschedulable`` from admins and the node lifecycle
controller) are left as they are on an existing Node.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from mixfleet.api import times
from mixfleet.client import AlreadyExistsError, Client, ConflictError, NotFoundError
from mixfleet.util import log

_log = log.get("nodeagent.node")

LEASE_NAMESPACE = "mixfleet-node-lease"
_TIMES = ("lastHeartbeatTime", "lastTransitionTime")


def comparable(status: dict[str, Any]) -> dict[str, Any]:
    """The status without the times that change on every heartbeat."""
    out = copy.deepcopy(status)
    for c in out.get("conditions") or []:
        for t in _TIMES:
            c.pop(t, None)
    return out


def keep_transition_times(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """A condition whose status did not change keeps its lastTransitionTime."""
    before = {c.get("type"): c for c in old.get("conditions") or []}
    for c in new.get("conditions") or []:
        prev = before.get(c.get("type"))
        if prev and prev.get("status") == c.get("status") and prev.get("lastTransitionTime"):
            c["lastTransitionTime"] = prev["lastTransitionTime"]
    return new


class NodeWriter:
    """Writes one node's Node and Lease; remembers what it wrote to skip no-op writes."""

    def __init__(self, client: Client, node_name: str, *, lease_duration_seconds: int) -> None:
        self.client = client
        self.node_name = node_name
        self.lease_duration_seconds = lease_duration_seconds
        self._written: dict[str, Any] | None = None  # comparable(status) last written
        # The Lease as last written: a renewal is then one CAS update, no read (like the
        # kubelet's lease controller), which keeps thousands of heartbeating nodes cheap.
        self._lease: dict[str, Any] | None = None

    async def register(self, desired: dict[str, Any]) -> None:
        """Create the Node, or adopt an existing one: merge labels, replace status."""
        try:
            await self.client.create(desired)
            self._written = comparable(desired["status"])
            _log.info("node.registered", node=self.node_name)
            return
        except AlreadyExistsError:
            pass  # a restarted agent finds its node
        existing = await self.client.get("Node", self.node_name)
        labels = {**(existing["metadata"].get("labels") or {}), **desired["metadata"]["labels"]}
        if labels != existing["metadata"].get("labels"):
            existing["metadata"]["labels"] = labels
            await self.client.update(existing)
        self._written = None
        await self.update_status(desired["status"])
        _log.info("node.adopted", node=self.node_name)

    async def update_status(self, status: dict[str, Any]) -> bool:
        """Write status when it differs from what was last written; True when written."""
        if self._written is not None and comparable(status) == self._written:
            return False
        for _ in range(3):
            node = await self.client.get("Node", self.node_name)
            node["status"] = keep_transition_times(copy.deepcopy(status), node.get("status") or {})
            try:
                await self.client.update_status(node)
            except ConflictError:
                continue  # another writer (node lifecycle) got in first: re-read
            self._written = comparable(status)
            _log.info("node.status_written", node=self.node_name)
            return True
        return False

    async def renew_lease(self, now: datetime) -> None:
        spec = {
            "holderIdentity": self.node_name,
            "renewTime": times.format_micro(now),
            "leaseDurationSeconds": self.lease_duration_seconds,
        }
        if self._lease is not None:
            try:
                self._lease = await self.client.update({**self._lease, "spec": spec})
                return
            except (ConflictError, NotFoundError):
                self._lease = None  # someone else wrote or removed it: read it afresh
        try:
            lease = await self.client.get("Lease", self.node_name, LEASE_NAMESPACE)
        except NotFoundError:
            self._lease = await self.client.create(
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.node_name, "namespace": LEASE_NAMESPACE},
                    "spec": spec,
                }
            )
            return
        self._lease = await self.client.update({**lease, "spec": spec})
