"""Cascading deletion of a big Deployment goes in batches, and pods no agent will stop do not
hold it up."""

from __future__ import annotations

import functools
from typing import Any, Sequence

import pytest

from mixfleet.api import pods as P
from mixfleet.client import Client
from tests.controllers.agents import node_object
from tests.controllers.conftest import deployment, eventually

PODS = 2_000
WAIT = 120.0  # a bound on a hang on a loaded 2-core machine, not a speed assertion


def _count_txns(store: Any) -> list[int]:
    """Count the store transactions from now on (the real store still commits them)."""
    calls = [0]
    real = store.txn

    @functools.wraps(real)
    async def txn(ops: Sequence[Any]) -> int:
        calls[0] += 1
        return await real(ops)

    store.txn = txn
    return calls


async def _all_gone(client: Client, app: str) -> bool:
    pods, _ = await client.list("Pod", label_selector=f"app={app}")
    sets, _ = await client.list("ReplicaSet", label_selector=f"app={app}")
    deps, _ = await client.list("Deployment")
    return not pods and not sets and not [d for d in deps if d["metadata"]["name"] == app]


async def _pods(client: Client, app: str, n: int, *, bound: bool = False) -> bool:
    pods, _ = await client.list("Pod", label_selector=f"app={app}")
    return len(pods) == n and all(bool(p["spec"].get("nodeName")) or not bound for p in pods)


@pytest.mark.parametrize("policy", [pytest.param("Background", id="background"),
                                    pytest.param("Foreground", id="foreground")])
async def test_a_big_cascade_is_batched(controlplane: Any, client: Client, policy: str) -> None:
    """Deleting a Deployment of 2,000 pods leaves no pod and no ReplicaSet, in a few dozen
    store transactions rather than one (or more) per pod."""
    app = f"big-{policy.lower()}"
    await client.create(deployment(app, replicas=PODS))
    await eventually(lambda: _pods(client, app, PODS), what=f"{PODS} pods", timeout=WAIT)
    txns = _count_txns(controlplane.store)
    await client.delete("Deployment", app, propagation_policy=policy)
    await eventually(lambda: _all_gone(client, app), what="every dependent deleted", timeout=WAIT)
    # 34 batches of 60 deletions, plus the owners' own writes and status updates.
    assert txns[0] < PODS // 10, f"{txns[0]} store transactions for {PODS} pods"


async def test_pods_of_a_deleted_node_do_not_block_a_foreground_cascade(client: Client) -> None:
    """Pods bound to a Node that has since been deleted have no agent to stop them: a
    foreground deletion of their Deployment removes them at once and finishes, while pods on
    a Node that is still there are only marked, for their agent to stop."""
    await client.create(node_object("gone-node", pods="1000"))
    await client.create(deployment("on-gone", replicas=30))
    await eventually(lambda: _pods(client, "on-gone", 30, bound=True), what="30 bound pods")
    await client.delete("Node", "gone-node")
    await client.delete("Deployment", "on-gone", propagation_policy="Foreground")
    await eventually(lambda: _all_gone(client, "on-gone"), what="the cascade to finish")

    await client.create(node_object("kept-node", pods="1000"))
    await client.create(deployment("on-kept", replicas=5))
    await eventually(lambda: _pods(client, "on-kept", 5, bound=True), what="5 bound pods")
    await client.delete("Deployment", "on-kept", propagation_policy="Foreground")

    async def marked() -> list[dict] | None:
        pods, _ = await client.list("Pod", label_selector="app=on-kept")
        return pods if len(pods) == 5 and all(P.deleting(p) for p in pods) else None

    pods = await eventually(marked, what="pods marked for their agent")
    assert all(int(p["metadata"]["deletionGracePeriodSeconds"]) > 0 for p in pods)


@pytest.mark.etcd
@pytest.mark.parametrize("policy", [pytest.param("Background", id="background"),
                                    pytest.param("Foreground", id="foreground")])
async def test_a_big_cascade_fits_etcds_transactions(etcd_client: Client, policy: str) -> None:
    """On etcd, whose --max-txn-ops (128) counts each CAS as two compares, a cascade and a
    scale-down of hundreds of pods go through (a batch of 100 deletes was refused)."""
    app = f"etcd-{policy.lower()}"
    await etcd_client.create(deployment(app, replicas=300))
    await eventually(lambda: _pods(etcd_client, app, 300), what="300 pods", timeout=WAIT)
    await etcd_client.update({**(d := await etcd_client.get("Deployment", app)),
                              "spec": {**d["spec"], "replicas": 100}})
    await eventually(lambda: _pods(etcd_client, app, 100), what="scaled down to 100", timeout=WAIT)
    await etcd_client.delete("Deployment", app, propagation_policy=policy)
    await eventually(lambda: _all_gone(etcd_client, app), what="every dependent deleted", timeout=WAIT)
