"""A stand-in node agent for controller tests, until nodeagent.agent.Agent lands.

``FakeAgent`` plays the agent's part through the real gRPC client: it registers a Ready
linux Node, renews the node's Lease every ``heartbeat`` seconds, marks the pods bound to it
Running and Ready (as the agent does once containers start), and finalises graceful
deletions (delete with grace 0, as the agent does after stopping containers). ``stop()`` is
the agent dying: heartbeats stop and nothing on the node changes any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
from typing import Any

from mixfleet.client import APIError, Client, ConflictError, NotFoundError

LEASE_NS = "mixfleet-node-lease"


def node_object(name: str, *, cpu: str = "8", memory: str = "16Gi", pods: str = "110") -> dict:
    res = {"cpu": cpu, "memory": memory, "pods": pods}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux",
                                              "kubernetes.io/arch": "amd64",
                                              "kubernetes.io/hostname": name}},
        "spec": {},
        "status": {
            "capacity": res,
            "allocatable": res,
            "nodeInfo": {"operatingSystem": "linux", "architecture": "amd64"},
            "platform": {"kernelVersion": "6.1.0-18-amd64", "simulated": True},
            "conditions": [{"type": "Ready", "status": "True", "reason": "AgentReady"}],
        },
    }


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def running(pod: dict[str, Any], *, ready: bool = True) -> dict[str, Any]:
    new = copy.deepcopy(pod)
    containers = (new.get("spec") or {}).get("containers") or []
    new["status"] = {
        **(new.get("status") or {}),
        "phase": "Running",
        "conditions": [
            c for c in (new.get("status") or {}).get("conditions") or []
            if c.get("type") != "Ready"
        ] + [{"type": "Ready", "status": "True" if ready else "False"}],
        "containerStatuses": [
            {"name": c["name"], "image": c.get("image", ""), "ready": ready, "restartCount": 0,
             "state": {"running": {"startedAt": _now()}}}
            for c in containers
        ],
    }
    return new


class _Killable:
    """An agent running as one asyncio task; ``stop()`` is the agent dying."""

    _task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


class FakeAgent(_Killable):
    def __init__(self, client: Client, name: str, *, heartbeat: float = 0.5,
                 ready_pods: bool = True) -> None:
        self.client = client
        self.name = name
        self.heartbeat = heartbeat
        self.ready_pods = ready_pods

    async def start(self) -> "FakeAgent":
        try:
            await self.client.create(node_object(self.name))
        except APIError:
            pass  # a restarted agent finds its node
        await self._renew()
        self._task = asyncio.create_task(self._loop(), name=f"fake-agent-{self.name}")
        return self

    async def _loop(self) -> None:
        while True:
            try:
                await self._renew()
                await self._tend_pods()
            except APIError:
                pass  # a control plane failing over: try again next beat
            await asyncio.sleep(min(self.heartbeat, 0.2))

    async def _renew(self) -> None:
        spec = {"holderIdentity": self.name, "renewTime": _now(),
                "leaseDurationSeconds": max(1, int(self.heartbeat * 4))}
        try:
            lease = await self.client.get("Lease", self.name, LEASE_NS)
        except NotFoundError:
            await self.client.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                      "metadata": {"name": self.name, "namespace": LEASE_NS},
                                      "spec": spec})
            return
        lease["spec"] = spec
        with contextlib.suppress(ConflictError):
            await self.client.update(lease)

    async def _tend_pods(self) -> None:
        pods, _ = await self.client.list("Pod", all_namespaces=True)
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") != self.name:
                continue
            m = pod["metadata"]
            try:
                if m.get("deletionTimestamp"):
                    await self.client.delete("Pod", m["name"], m["namespace"],
                                             grace_period_seconds=0)
                elif (pod.get("status") or {}).get("phase") in (None, "Pending"):
                    await self.client.update_status(running(pod, ready=self.ready_pods))
            except (NotFoundError, ConflictError):
                pass


FAST_AGENT = dict(heartbeat_seconds=0.3, resync_seconds=0.5, node_refresh_seconds=2.0,
                  backoff_base_seconds=0.5, backoff_cap_seconds=2.0, lease_duration_seconds=2)


class SimulatedNode(_Killable):
    """The real node agent (nodeagent.agent.Agent) on a simulated linux engine. The engine
    outlives ``stop()``, so a restarted agent finds the containers its node still holds."""

    def __init__(self, client: Client, name: str, **engine: Any) -> None:
        """``engine``: SimulatedEngine arguments, e.g. ``os="windows", build=17763,
        hyperv=False`` for a Windows Server 2019 node without Hyper-V."""
        from mixfleet.nodeagent.engines.simulated import SimulatedEngine

        self.client = client
        self.name = name
        self.engine = SimulatedEngine(**{"os": "linux", "cpu": 8, **engine, "hostname": name})

    async def start(self, client: Client | None = None) -> "SimulatedNode":
        from mixfleet.nodeagent.agent import Agent, AgentConfig

        if client is not None:
            self.client = client
        agent = Agent(self.client, self.engine, self.name, facts=self.engine.host_facts(),
                      config=AgentConfig(**FAST_AGENT))  # type: ignore[arg-type]
        self._task = asyncio.create_task(agent.run(), name=f"agent-{self.name}")
        return self

    async def pod_uids(self) -> set[str]:
        from mixfleet.nodeagent.podspec import LABEL_POD_UID

        return {c.labels.get(LABEL_POD_UID, "") for c in await self.engine.list_containers()}
