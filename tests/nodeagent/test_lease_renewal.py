"""Lease renewal against a real control plane: one write per heartbeat, and recovery when
someone else changed or removed the Lease."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mixfleet.client import Client
from mixfleet.nodeagent.nodestatus import LEASE_NAMESPACE, NodeWriter


async def test_renewals_advance_and_survive_outside_changes(client: Client) -> None:
    """Each renewal moves renewTime forward, even after the Lease was edited or deleted."""
    writer = NodeWriter(client, "n1", lease_duration_seconds=40)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    await writer.renew_lease(t0)
    await writer.renew_lease(t0 + timedelta(seconds=5))
    lease = await client.get("Lease", "n1", LEASE_NAMESPACE)
    assert lease["spec"]["renewTime"].startswith("2026-01-01T00:00:05")
    lease["metadata"].setdefault("labels", {})["edited"] = "yes"  # another writer: CAS goes stale
    await client.update(lease)
    await writer.renew_lease(t0 + timedelta(seconds=10))
    lease = await client.get("Lease", "n1", LEASE_NAMESPACE)
    assert lease["spec"]["renewTime"].startswith("2026-01-01T00:00:10")
    assert lease["metadata"]["labels"] == {"edited": "yes"}
    await client.delete("Lease", "n1", LEASE_NAMESPACE)
    await writer.renew_lease(t0 + timedelta(seconds=15))
    lease = await client.get("Lease", "n1", LEASE_NAMESPACE)
    assert lease["spec"]["renewTime"].startswith("2026-01-01T00:00:15")
