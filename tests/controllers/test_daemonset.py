"""DaemonSets on a mixed cluster: a real Linux node on dockerd (busybox) and simulated
Windows nodes of different builds, all running the real node agent."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest
import pytest_asyncio

from mixfleet.api.kinds import by_kind
from mixfleet.client import Client
from tests.controllers.agents import FAST_AGENT, SimulatedNode
from tests.controllers.conftest import eventually, run_mixctl, track_min_available

BUSYBOX = "mixfleet/busybox:latest"
NANO_2022 = "mcr.microsoft.com/windows/nanoserver:ltsc2022"
WINDOWS_TAINT = {"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}


def daemonset(name: str, image: str, *, windows: bool = False, max_unavailable: object = 1,
              max_surge: object = 0, **pod: Any) -> dict:
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "agent", "image": image,
                        "resources": {"requests": {"cpu": "50m", "memory": "16Mi"}}}],
        **pod,
    }
    if windows:
        spec["nodeSelector"] = {"kubernetes.io/os": "windows"}
        spec["tolerations"] = [WINDOWS_TAINT]
    else:
        spec["containers"][0]["command"] = ["sleep", "3600"]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "updateStrategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": max_surge}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


@pytest_asyncio.fixture
async def cp(tmp_path: Path) -> AsyncIterator[Any]:
    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig

    plane = ControlPlane(ControlPlaneConfig(store_url=f"sqlite:///{tmp_path / 'state.db'}", listen="127.0.0.1:0"))
    await plane.start()
    try:
        yield plane
    finally:
        await plane.stop()


@pytest_asyncio.fixture
async def api(cp: Any) -> AsyncIterator[Client]:
    async with Client(cp.address, retry_seconds=5) as c:
        yield c


@contextlib.asynccontextmanager
async def nodes(api: Client, **specs: dict[str, Any]) -> AsyncIterator[dict[str, SimulatedNode]]:
    started = {name: await SimulatedNode(api, name, **spec).start() for name, spec in specs.items()}

    async def registered() -> bool:
        names = {n["metadata"]["name"] for n in (await api.list("Node"))[0]}
        return set(specs) <= names

    try:
        await eventually(registered, what=f"nodes {sorted(specs)} registered")
        yield started
    finally:
        for n in started.values():
            await n.stop()


WINDOWS_2019 = dict(os="windows", build=17763, revision=6189, hyperv=False)
WINDOWS_2022 = dict(os="windows", build=20348, revision=2655, hyperv=False)
WINDOWS_2025 = dict(os="windows", build=26100, revision=2314, hyperv=False)
LINUX = dict(os="linux")


async def _pods(api: Client, app: str) -> list[dict]:
    pods, _ = await api.list("Pod", namespace="default", label_selector=f"app={app}")
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


async def _running_on(api: Client, app: str, want: set[str]) -> dict[str, dict] | None:
    """The app's pods by node once exactly ``want`` run one Ready pod each."""
    from mixfleet.api.pods import is_ready

    pods = await _pods(api, app)
    by_node = {p["spec"].get("nodeName"): p for p in pods if is_ready(p)}
    return by_node if set(by_node) == want and len(pods) == len(want) else None


async def _status(api: Client, name: str, **want: int) -> dict | None:
    st = (await api.get("DaemonSet", name, "default")).get("status") or {}
    return st if all(st.get(k) == v for k, v in want.items()) else None


async def _rolled(api: Client, name: str, desired: int) -> dict | None:
    """The DaemonSet once its controller has seen the latest template (observedGeneration)
    and rolled it onto ``desired`` nodes: a status of the previous generation, also "all
    updated", does not count."""
    from mixfleet.api.daemonsets import rollout_complete

    ds = await api.get("DaemonSet", name, "default")
    st = ds.get("status") or {}
    done = rollout_complete(ds) and st.get("desiredNumberScheduled") == desired
    return ds if done and st.get("currentNumberScheduled") == desired else None


async def _edit(api: Client, name: str, change: Callable[[dict], object]) -> None:
    """Change the DaemonSet's pod template, retrying when its status moved meanwhile."""
    from mixfleet.mixctl.objects import mutate

    def edit(ds: dict) -> bool:
        change(ds["spec"]["template"])
        return True

    await mutate(api, by_kind("DaemonSet"), name, "default", edit)


def _skipped(status: dict) -> str:
    return next((c["message"] for c in status.get("conditions") or [] if c["type"] == "NodesSkipped"), "")


@pytest.mark.docker
async def test_mixed_cluster_each_daemon_on_the_nodes_that_can_run_it(cp: Any, api: Client, dockerd) -> None:
    """A Linux DaemonSet runs busybox on the real dockerd node only; a Windows one runs
    nanoserver:ltsc2022 on the 2022 and 2025 nodes and says it skipped the 2019 node for its
    build and the Linux node for its OS; a Windows node that joins gets a pod too."""
    from mixfleet.nodeagent.agent import Agent, AgentConfig
    from mixfleet.nodeagent.engines.docker_engine import DockerEngine
    from mixfleet.nodeagent.podspec import LABEL_NODE, MANAGED

    docker_node = f"docker-{uuid.uuid4().hex[:6]}"
    engine = DockerEngine(base_url=dockerd.socket_url, retry_seconds=2)
    agent = asyncio.create_task(Agent(api, engine, docker_node, config=AgentConfig(**FAST_AGENT)).run())  # type: ignore[arg-type]
    try:
        async with nodes(api, **{"win-2019": WINDOWS_2019, "win-2022": WINDOWS_2022, "win-2025": WINDOWS_2025}):
            await api.create(daemonset("logs", BUSYBOX))
            await api.create(daemonset("winmon", NANO_2022, windows=True))
            linux = await eventually(lambda: _running_on(api, "logs", {docker_node}), what="busybox on docker",
                                     timeout=90)
            containers = await engine.list_containers({**MANAGED, LABEL_NODE: docker_node})
            assert any(c.image.startswith(BUSYBOX) for c in containers), containers
            assert linux[docker_node]["spec"]["binding"] == {"images": {"agent": BUSYBOX}}
            win = await eventually(lambda: _running_on(api, "winmon", {"win-2022", "win-2025"}),
                                   what="nanoserver on the 2022 and 2025 nodes")
            assert {p["spec"]["binding"]["isolation"] for p in win.values()} == {"process"}

            st = await eventually(lambda: _status(api, "winmon", desiredNumberScheduled=2, numberReady=2,
                                                  numberAvailable=2, updatedNumberScheduled=2),
                                  what="winmon status")
            message = _skipped(st)
            assert message.startswith("skipped 2 of 4 nodes: ")
            assert (f"win-2019 (image {NANO_2022}: host build 17763 cannot run image build 20348 "
                    "with process isolation)") in message
            assert f"{docker_node} (node OS is linux, pod needs windows)" in message
            st = await eventually(lambda: _status(api, "logs", desiredNumberScheduled=1, numberAvailable=1),
                                  what="logs status")
            assert "node OS is windows, pod needs linux" in _skipped(st)

            out = await run_mixctl(cp.address, "describe", "ds", "winmon")
            assert "NodesSkipped" in out and "win-2019" in out and "SuccessfulCreate" in out
            out = await run_mixctl(cp.address, "get", "ds")
            row = next(line.split() for line in out.splitlines() if line.startswith("winmon"))
            assert row[1:6] == ["2", "2", "2", "2", "2"], out

            async with nodes(api, **{"win-2022-b": WINDOWS_2022}):
                await eventually(lambda: _running_on(api, "winmon", {"win-2022", "win-2025", "win-2022-b"}),
                                 what="a pod on the node that joined")
                await eventually(lambda: _status(api, "winmon", desiredNumberScheduled=3, numberAvailable=3),
                                 what="desired 3")
    finally:
        agent.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await agent
        for c in await engine.list_containers({**MANAGED, LABEL_NODE: docker_node}):
            await engine.remove(c.id)
        await engine.close()


async def test_rolling_update_keeps_max_unavailable(cp: Any, api: Client) -> None:
    """A template change replaces the pods one node at a time (maxUnavailable 1): at every
    revision at least 3 of 4 nodes have an available pod; it ends with every pod new and
    mixctl rollout status reports success."""
    async with nodes(api, **{f"n{i}": LINUX for i in range(4)}):
        await api.create(daemonset("agent", BUSYBOX))
        want = {f"n{i}" for i in range(4)}
        before = await eventually(lambda: _running_on(api, "agent", want), what="first pods")
        low = [4]
        watcher = asyncio.create_task(track_min_available(api, "agent", low))
        try:
            await _edit(api, "agent", lambda t: t["spec"]["containers"][0].update(
                env=[{"name": "VERSION", "value": "2"}]))
            out = await run_mixctl(cp.address, "rollout", "status", "ds/agent", "--timeout", "60")
            assert out.rstrip().endswith('daemon set "agent" successfully rolled out'), out
            done = await api.get("DaemonSet", "agent", "default")
            assert done["status"]["observedGeneration"] == done["metadata"]["generation"] == 2
            assert done["status"]["updatedNumberScheduled"] == done["status"]["numberAvailable"] == 4
            after = await eventually(lambda: _running_on(api, "agent", want), what="new pods")
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        old_names = {p["metadata"]["name"] for p in before.values()}
        assert not old_names & {p["metadata"]["name"] for p in after.values()}
        assert all(p["spec"]["containers"][0].get("env") for p in after.values())
        assert low[0] >= 3, f"only {low[0]} of 4 pods were available at one point"
        st = await api.get("DaemonSet", "agent", "default")
        assert st["status"]["updatedNumberScheduled"] == 4


async def test_rolling_update_with_surge_starts_the_new_pod_first(cp: Any, api: Client) -> None:
    """maxSurge 1, maxUnavailable 0: no node is ever without an available pod."""
    async with nodes(api, **{f"s{i}": LINUX for i in range(3)}):
        await api.create(daemonset("surge", BUSYBOX, max_unavailable=0, max_surge=1))
        want = {f"s{i}" for i in range(3)}
        await eventually(lambda: _running_on(api, "surge", want), what="first pods")
        low = [3]
        watcher = asyncio.create_task(track_min_available(api, "surge", low))
        try:
            await _edit(api, "surge", lambda t: t["metadata"]["labels"].update(version="2"))
            await eventually(lambda: _rolled(api, "surge", 3), what="rolled")
            after = await eventually(lambda: _running_on(api, "surge", want), what="one pod per node")
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        assert all(p["metadata"]["labels"].get("version") == "2" for p in after.values())
        assert low[0] >= 3, f"only {low[0]} of 3 pods were available at one point"


async def test_removed_node_and_deleted_daemonset_take_their_pods(cp: Any, api: Client) -> None:
    """A node that leaves the cluster loses its daemon pod and the DaemonSet wants one less;
    deleting the DaemonSet deletes its pods (garbage collection by ownerReferences)."""
    async with nodes(api, a=LINUX, b=LINUX) as started:
        await api.create(daemonset("gone", BUSYBOX))
        await eventually(lambda: _running_on(api, "gone", {"a", "b"}), what="two pods")
        await started["b"].stop()
        await api.delete("Node", "b")
        await eventually(lambda: _running_on(api, "gone", {"a"}), what="only the pod on a")
        await eventually(lambda: _status(api, "gone", desiredNumberScheduled=1, currentNumberScheduled=1),
                         what="desired 1")
        await api.delete("DaemonSet", "gone", "default")

        async def none_left() -> bool:
            pods, _ = await api.list("Pod", namespace="default", label_selector="app=gone")
            return not pods

        await eventually(none_left, what="the daemon pods deleted")

        async def no_containers() -> bool:
            return not await started["a"].pod_uids() - {""}

        await eventually(no_containers, what="the daemon's containers gone from node a")


async def test_drain_leaves_daemon_pods_only_when_asked(cp: Any, api: Client) -> None:
    """Daemon pods tolerate the cordon and would come back, so drain refuses while the node
    has some, naming them; with --ignore-daemonsets it drains the rest and leaves them."""
    async with nodes(api, d1=LINUX):
        await api.create(daemonset("keep", BUSYBOX))
        pods = await eventually(lambda: _running_on(api, "keep", {"d1"}), what="the daemon pod")
        name = pods["d1"]["metadata"]["name"]
        out = await run_mixctl(cp.address, "drain", "d1", "--timeout", "20", expect=1)
        assert f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/{name}" in out
        out = await run_mixctl(cp.address, "drain", "d1", "--ignore-daemonsets", "--timeout", "20")
        assert f"ignoring DaemonSet-managed Pods: default/{name}" in out and "node/d1 drained" in out
        assert (await _running_on(api, "keep", {"d1"}) or {}).get("d1", {}).get("metadata", {}).get("name") == name


async def test_pinned_pod_waits_with_the_schedulers_reason_on_a_node_too_small(cp: Any, api: Client) -> None:
    """Resources are the scheduler's: the daemon pod for a node too small for it is made,
    stays Pending and says why; the DaemonSet counts it scheduled but not ready."""
    async with nodes(api, big=dict(os="linux", cpu=8), small=dict(os="linux", cpu=2)):
        ds = daemonset("hungry", BUSYBOX)
        ds["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "3"
        await api.create(ds)
        await eventually(lambda: _status(api, "hungry", desiredNumberScheduled=2, currentNumberScheduled=2,
                                         numberReady=1), what="one of two ready")

        async def pending_reason() -> str | None:
            for p in await _pods(api, "hungry"):
                cond = next((c for c in (p.get("status") or {}).get("conditions") or []
                             if c["type"] == "PodScheduled" and c["status"] == "False"), None)
                if cond and "insufficient cpu" in cond.get("message", ""):
                    return f"{p['spec']['affinity']['nodeAffinity']} {cond['message']}"
            return None

        said = await eventually(pending_reason, what="the small node's pod explained")
        assert "'values': ['small']" in said and "1 insufficient cpu" in said


async def test_taints_and_labels_changed_on_a_node_move_its_daemon_pod(cp: Any, api: Client) -> None:
    """A NoSchedule taint leaves the running pod alone; a NoExecute one removes it; a label
    the nodeSelector wants, added to another node, brings a pod there."""
    from mixfleet.mixctl.objects import mutate

    async with nodes(api, t1=LINUX, t2=LINUX):
        await api.create(daemonset("picky", BUSYBOX, nodeSelector={"role": "edge"}))

        def node_change(labels: dict | None = None, taint: dict | None = None) -> Callable[[dict], bool]:
            def change(n: dict) -> bool:
                n["metadata"].setdefault("labels", {}).update(labels or {})
                if taint:
                    n["spec"].setdefault("taints", []).append(taint)
                return True
            return change

        await mutate(api, by_kind("Node"), "t1", "", node_change(labels={"role": "edge"}))
        first = await eventually(lambda: _running_on(api, "picky", {"t1"}), what="a pod on the labelled node")
        await mutate(api, by_kind("Node"), "t1", "", node_change(taint={"key": "k", "effect": "NoSchedule"}))
        st = await eventually(lambda: _status(api, "picky", desiredNumberScheduled=0), what="desired 0")
        assert "t1 (node(s) had untolerated taint {k})" in _skipped(st)
        still = await _running_on(api, "picky", {"t1"}) or {}
        assert still.get("t1", {}).get("metadata", {}).get("uid") == first["t1"]["metadata"]["uid"]
        await mutate(api, by_kind("Node"), "t2", "", node_change(labels={"role": "edge"}))
        await mutate(api, by_kind("Node"), "t1", "", node_change(taint={"key": "x", "effect": "NoExecute"}))
        await eventually(lambda: _running_on(api, "picky", {"t2"}), what="the pod moved from t1 to t2")
