"""Probes and lifecycle hooks against the real dockerd (busybox), as a user sees them: a
container whose httpd stops answering is restarted by its httpGet liveness probe, with
Unhealthy and Killing events in `mixctl describe pod`; a startupProbe holds liveness back;
tcpSocket and exec readiness gate Ready; preStop runs before the container is stopped,
inside the grace period. Network probes go to the pod's IP (its sandbox's address on the
test dockerd's bridge), as the kubelet's do."""

from __future__ import annotations

from typing import Any

import pytest

from mixfleet.nodeagent.engines.netprobe import ExecAction, ProbeAction, ProbeResult, SleepAction
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import RecordingEngine, harness, pod  # noqa: F401  (fixture)
from tests.nodeagent.test_node_events import _by_reason, _describe, _event_lines, _events

pytestmark = pytest.mark.docker

HTTPD = "mkdir -p /w && echo ok > /w/healthz && exec httpd -f -p 8080 -h /w"


class ProbeRecordingEngine(RecordingEngine):
    """The real engine, also recording each probe or hook check and the container's output
    at the moment it is stopped."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.checks: list[tuple[str, ProbeAction]] = []
        self.output_at_stop: dict[str, bytes] = {}

    async def probe(self, container_id: str, action: ProbeAction, *, timeout: float) -> ProbeResult:
        self.checks.append((container_id, action))
        return await super().probe(container_id, action, timeout=timeout)

    async def stop(self, container_id: str, grace_seconds: float) -> None:
        self.output_at_stop[container_id] = b"".join([c async for c in self.logs(container_id)])
        await super().stop(container_id, grace_seconds)


@pytest.fixture
def probing(harness):  # noqa: F811
    """The harness over the recording engine above."""
    old = harness.engine
    harness.engine = ProbeRecordingEngine(
        base_url=old.base_url, retry_seconds=2, network_mode=old.network_mode
    )
    return harness


def _container(p: dict, **fields: Any) -> dict:
    p["spec"]["containers"][0].update(fields)
    return p


async def _cs(client: Any, name: str) -> dict:
    st = (await client.get("Pod", name, "default")).get("status") or {}
    return (st.get("containerStatuses") or [{}])[0]


async def _sh(h: Any, uid: str, script: str) -> None:
    [c] = [c for c in await h.containers(uid) if c.state.value == "running"]
    result = await h.engine.exec(c.id, ["sh", "-c", script], timeout=10)
    assert result.exit_code == 0, result.output


async def test_http_liveness_restarts_a_container_that_stops_answering(probing, client, controlplane):
    """httpGet liveness on a named port against busybox httpd: while /healthz answers the
    container keeps running; once the file is gone (404) it is killed and restarted,
    restartCount goes up, and describe shows Unhealthy and Killing."""
    h = probing
    await h.start()
    p = _container(
        pod("live", h.node, HTTPD),
        ports=[{"name": "http", "containerPort": 8080}],
        livenessProbe={"httpGet": {"path": "/healthz", "port": "http",
                                   "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                       "periodSeconds": 1, "failureThreshold": 2, "terminationGracePeriodSeconds": 1},
    )
    uid = (await client.create(p))["metadata"]["uid"]

    async def probed_ok() -> bool:
        cs = await _cs(client, "live")
        return "running" in (cs.get("state") or {}) and len(h.engine.checks) >= 3

    await eventually(probed_ok)
    assert (await _cs(client, "live"))["restartCount"] == 0
    await _sh(h, uid, "rm /w/healthz")

    async def restarted() -> dict | None:
        cs = await _cs(client, "live")
        return cs if cs.get("restartCount", 0) >= 1 and "running" in (cs.get("state") or {}) else None

    cs = await eventually(restarted)
    assert cs["lastState"]["terminated"]["exitCode"] != 0
    evs = _by_reason(await _events(client, "live"))
    assert evs["Unhealthy"]["message"] == "Liveness probe failed: HTTP probe failed with statuscode: 404"
    assert evs["Unhealthy"]["type"] == "Warning" and evs["Unhealthy"]["count"] >= 2
    assert evs["Killing"]["message"] == "Container main failed liveness probe, will be restarted"
    stops = [grace for call, _, grace in h.engine.calls if call == "stop"]
    assert stops and stops[0] == 1  # the probe's own terminationGracePeriodSeconds
    text = await _describe(controlplane.address, "live")
    assert "Restart Count: 1" in text or "Restart Count: 2" in text, text
    lines = _event_lines(text)
    assert any("Unhealthy" in x and "statuscode: 404" in x for x in lines), lines
    # The new container serves /healthz again: it stays up.
    assert (await _cs(client, "live"))["ready"] is True


async def test_startup_probe_holds_liveness_back(probing, client):
    """A failing tcpSocket liveness probe is not run while the startupProbe has not passed:
    no restart, started and ready false; once startup passes, liveness runs and restarts."""
    h = probing
    await h.start()
    p = _container(
        pod("slow", h.node, "sleep 600"),
        startupProbe={"exec": {"command": ["test", "-f", "/tmp/started"]},
                      "periodSeconds": 1, "failureThreshold": 600},
        livenessProbe={"tcpSocket": {"port": 9999}, "periodSeconds": 1, "failureThreshold": 1,
                       "terminationGracePeriodSeconds": 1},
    )
    uid = (await client.create(p))["metadata"]["uid"]

    async def startup_probed() -> bool:
        return sum(isinstance(a, ExecAction) for _, a in h.engine.checks) >= 3

    await eventually(startup_probed)
    cs = await _cs(client, "slow")
    assert (cs["started"], cs["ready"], cs["restartCount"]) == (False, False, 0)
    assert not [a for _, a in h.engine.checks if not isinstance(a, ExecAction)]  # no liveness yet
    await _sh(h, uid, ": > /tmp/started")

    async def restarted() -> dict | None:
        cs = await _cs(client, "slow")
        return cs if cs.get("restartCount", 0) >= 1 else None

    await eventually(restarted)
    unhealthy = {e["message"] for e in await _events(client, "slow") if e["reason"] == "Unhealthy"}
    assert "Startup probe failed: command 'test -f /tmp/started' exited with 1" in unhealthy
    assert "Liveness probe failed: dial tcp localhost:9999: connect: connection refused" in unhealthy


async def test_tcp_and_exec_readiness_gate_ready(probing, client):
    """A pod with a tcpSocket readiness probe on one container and an exec one on the other
    is Ready only once both pass."""
    h = probing
    await h.start()
    p = pod("gate", h.node, "while [ ! -f /tmp/go ]; do sleep 0.2; done; exec httpd -f -p 7000 -h /")
    web = p["spec"]["containers"][0]
    web["readinessProbe"] = {"tcpSocket": {"port": 7000}, "periodSeconds": 1}
    side = {**web, "name": "side", "command": ["sh", "-c", "sleep 600"],
            "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1}}
    p["spec"]["containers"].append(side)
    uid = (await client.create(p))["metadata"]["uid"]

    async def ready() -> dict[str, bool]:
        st = (await client.get("Pod", "gate", "default")).get("status") or {}
        conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
        out = {cs["name"]: cs["ready"] for cs in st.get("containerStatuses") or []}
        out["pod"] = conds.get("Ready") == "True"
        return out

    async def probed(n: int) -> bool:
        return len(h.engine.checks) >= n

    await eventually(lambda: probed(4))
    assert await ready() == {"main": False, "side": False, "pod": False}
    containers = {c.labels["mixfleet.io/container-name"]: c for c in await h.containers(uid)}
    assert (await h.engine.exec(containers["main"].id, ["sh", "-c", ": > /tmp/go"], timeout=5)).exit_code == 0

    async def main_ready() -> bool:
        return (await ready()) == {"main": True, "side": False, "pod": False}

    await eventually(main_ready)
    assert (await h.engine.exec(containers["side"].id, ["sh", "-c", ": > /tmp/ready"], timeout=5)).exit_code == 0

    async def all_ready() -> bool:
        return (await ready()) == {"main": True, "side": True, "pod": True}

    await eventually(all_ready)


async def test_prestop_runs_before_the_stop_inside_the_grace(probing, client):
    """Deleting a pod runs its preStop hook in the container first (its output is there
    when the stop comes), then stops it with what is left of the grace period; a preStop
    sleep counts against the grace too."""
    h = probing
    await h.start()
    p = _container(
        pod("bye", h.node, "trap 'exit 0' TERM; while true; do sleep 0.1; done", grace=9),
        lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "echo prestop ran > /proc/1/fd/1; sleep 2"]}}},
    )
    q = _container(pod("nap", h.node, "trap 'exit 0' TERM; while true; do sleep 0.1; done", grace=9),
                   lifecycle={"preStop": {"sleep": {"seconds": 3}}})
    uid = (await client.create(p))["metadata"]["uid"]
    nap_uid = (await client.create(q))["metadata"]["uid"]

    async def running(name: str) -> bool:
        return "running" in ((await _cs(client, name)).get("state") or {})

    await eventually(lambda: running("bye"))
    await eventually(lambda: running("nap"))
    [c] = await h.containers(uid)
    [d] = await h.containers(nap_uid)
    await client.delete("Pod", "bye", "default")
    await client.delete("Pod", "nap", "default")

    async def gone() -> bool:  # both app containers (their sandboxes are stopped too)
        return {c.id, d.id} <= {x[1] for x in h.engine.calls if x[0] == "remove"}

    await eventually(gone)
    assert b"prestop ran" in h.engine.output_at_stop[c.id]
    hook = [a for cid, a in h.engine.checks if cid == c.id]
    assert hook == [ExecAction(("sh", "-c", "echo prestop ran > /proc/1/fd/1; sleep 2"))]
    grace = {cid: g for call, cid, g in h.engine.calls if call == "stop"}
    assert 2 <= grace[c.id] <= 7  # 9 s less the ~2 s the hook took
    assert 2 <= grace[d.id] <= 6  # 9 s less the 3 s sleep
    assert not [a for cid, a in h.engine.checks if isinstance(a, SleepAction)]  # sleep runs in the agent


async def test_readme_web_deployment_pod_becomes_ready(probing, client):
    """The pod of manifests/web.yaml's Deployment (httpGet readiness and liveness on the
    named port, a preStop sleep) becomes Ready on a Docker node and stays up."""
    from mixfleet.api.manifest import load
    from tests.fixtures.controlplane import REPO

    h = probing
    await h.start()
    docs = [d.obj for d in load([str(REPO / "manifests" / "web.yaml")]) if d.obj["kind"] == "Deployment"]
    template = docs[0]["spec"]["template"]
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web-readme", "namespace": "default", "labels": template["metadata"]["labels"]},
         "spec": {**template["spec"], "nodeName": h.node}}
    await client.create(p)

    async def ready() -> bool:
        cs = await _cs(client, "web-readme")
        return cs.get("ready") is True

    await eventually(ready)
    assert (await _cs(client, "web-readme"))["restartCount"] == 0


async def test_the_manifests_doc_example_runs(probing, client):
    """The container of docs/MANIFESTS.md's probes example, as written there, becomes
    started and Ready on a Docker node, with its postStart hook run."""
    import yaml

    from tests.fixtures.controlplane import REPO

    text = (REPO / "docs" / "MANIFESTS.md").read_text()
    section = text.split("## Probes and lifecycle hooks", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    containers = yaml.safe_load(block)["containers"]
    h = probing
    await h.start()
    p = pod("doc", h.node, "")
    p["spec"]["containers"] = [{**containers[0], "resources": p["spec"]["containers"][0]["resources"]}]
    uid = (await client.create(p))["metadata"]["uid"]

    async def ready() -> dict | None:
        cs = await _cs(client, "doc")
        return cs if cs.get("ready") is True else None

    cs = await eventually(ready)
    assert (cs["started"], cs["restartCount"]) == (True, 0)
    await _sh(h, uid, "test -f /tmp/started")
