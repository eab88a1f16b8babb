"""A pod's securityContext on a real dockerd: what the container's process is allowed, seen
from inside it (id, /proc/self/status, a write to its root filesystem), and the kubelet's
runAsNonRoot refusal of an image that runs as root."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import docker
import pytest

from mixfleet.api import podsecurity
from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.engines.docker_engine import DockerEngine
from mixfleet.nodeagent.podspec import LABEL_CONTAINER, LABEL_POD_UID, MANAGED
from tests.nodeagent.builders import eventually
from tests.nodeagent.dockeragents import stop_and_clean
from tests.nodeagent.test_agent import FAST, IMAGE

pytestmark = pytest.mark.docker
NS = "secctx-test"
# Privileged containers and added capabilities need the privileged Pod Security level.
PRIVILEGED_NS = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": NS, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}


def secure_pod(name: str, node: str, container_sc: dict[str, Any] | None = None,
               pod_sc: dict[str, Any] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}
    if container_sc is not None:
        container["securityContext"] = container_sc
    spec: dict[str, Any] = {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [container]}
    if pod_sc is not None:
        spec["securityContext"] = pod_sc
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS}, "spec": spec}


class Node:
    def __init__(self, client: Any, engine: DockerEngine, name: str, namespace: str = NS, *,
                 engine_url: str = "") -> None:
        self.client, self.engine, self.name, self.namespace = client, engine, name, namespace
        self.engine_url = engine_url

    async def run(self, pod: str, *command: str) -> tuple[int, str]:
        """``command``'s exit code and output in the pod's running container."""
        uid = (await self.client.get("Pod", pod, self.namespace))["metadata"]["uid"]

        async def running() -> str | None:
            found = await self.engine.list_containers({**MANAGED, LABEL_POD_UID: uid, LABEL_CONTAINER: "c"})
            return next((c.id for c in found if c.state.value == "running"), None)

        result = await self.engine.exec(await eventually(running), list(command), timeout=10)
        return result.exit_code, result.output

    async def inspect(self, pod: str) -> dict[str, Any]:
        """``docker inspect`` of the pod's container, once it exists (running or not)."""
        uid = (await self.client.get("Pod", pod, self.namespace))["metadata"]["uid"]

        api = docker.APIClient(base_url=self.engine_url)

        async def inspected() -> dict[str, Any] | None:
            # A container that cannot start is replaced now and then: inspect what is there.
            for c in await self.engine.list_containers({**MANAGED, LABEL_POD_UID: uid, LABEL_CONTAINER: "c"}):
                with contextlib.suppress(docker.errors.NotFound):
                    return dict(api.inspect_container(c.id))
            return None

        return dict(await eventually(inspected))

    async def status_line(self, pod: str, field: str) -> str:
        code, out = await self.run(pod, "cat", "/proc/self/status")
        assert code == 0, out
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith(field + ":"))


@contextlib.asynccontextmanager
async def running_agent(client: Any, dockerd: Any, root: Path) -> AsyncIterator[Node]:
    """A node agent on the real dockerd; its containers are removed when it stops."""
    engine = DockerEngine(base_url=dockerd.socket_url, retry_seconds=2)
    n = Node(client, engine, f"sec-{uuid.uuid4().hex[:6]}", engine_url=dockerd.socket_url)
    agent = Agent(client, engine, n.name, config=AgentConfig(**FAST, root_dir=str(root / "agent")))
    task = asyncio.create_task(agent.run())
    try:
        yield n
    finally:
        await stop_and_clean(task, engine, n.name)


@pytest.fixture
async def node(client, dockerd, tmp_path):
    await client.apply([PRIVILEGED_NS])
    async with running_agent(client, dockerd, tmp_path) as n:
        yield n


async def test_run_as_user_and_groups(node, client) -> None:
    """runAsUser, runAsGroup (the container's winning over the pod's) and supplementalGroups
    are the process's uid, gid and groups."""
    await client.create(secure_pod("ids", node.name, {"runAsGroup": 2345},
                                   {"runAsUser": 1234, "runAsGroup": 1, "supplementalGroups": [3456]}))
    assert await node.run("ids", "busybox", "id", "-u") == (0, "1234\n")
    assert await node.run("ids", "busybox", "id", "-g") == (0, "2345\n")
    code, groups = await node.run("ids", "busybox", "id", "-G")
    assert code == 0 and "3456" in groups.split()


async def test_fs_group_owns_the_pods_volumes(node, client) -> None:
    """fsGroup: the process has the group, an emptyDir and a configMap volume belong to it
    (what the container writes too, by the setgid bit), group-writable where the type allows."""
    await client.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf", "namespace": NS},
                         "data": {"key": "value"}}])
    pod = secure_pod("fsg", node.name, pod_sc={"runAsUser": 1000, "fsGroup": 2000})
    pod["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "conf"}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": "/scratch"},
                                                    {"name": "conf", "mountPath": "/conf"}]
    await client.create(pod)
    code, groups = await node.run("fsg", "busybox", "id", "-G")
    assert code == 0 and "2000" in groups.split()
    assert await node.run("fsg", "busybox", "sh", "-c", "echo hi > /scratch/f && busybox stat -c %g /scratch/f") \
        == (0, "2000\n")
    assert await node.run("fsg", "busybox", "stat", "-L", "-c", "%g %a", "/conf/key") == (0, "2000 644\n")
    assert await node.run("fsg", "busybox", "stat", "-c", "%a", "/scratch") == (0, "2777\n")


async def test_read_only_root_filesystem(node, client) -> None:
    """readOnlyRootFilesystem: a write to the image's filesystem fails."""
    await client.create(secure_pod("ro", node.name, {"readOnlyRootFilesystem": True}))
    code, out = await node.run("ro", "busybox", "touch", "/written")
    assert code != 0 and "Read-only file system" in out


async def test_capabilities_and_no_new_privileges(node, client) -> None:
    """capabilities.drop ALL leaves no effective capability; adding NET_BIND_SERVICE back
    gives exactly that one (bit 10); allowPrivilegeEscalation false sets NoNewPrivs."""
    await client.create(secure_pod("nocaps", node.name, {"capabilities": {"drop": ["ALL"]},
                                                         "allowPrivilegeEscalation": False}))
    await client.create(secure_pod("bind", node.name, {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}))
    assert await node.status_line("nocaps", "CapEff") == "0000000000000000"
    assert await node.status_line("nocaps", "NoNewPrivs") == "1"
    assert await node.status_line("bind", "CapEff") == f"{1 << 10:016x}"
    assert await node.status_line("bind", "NoNewPrivs") == "0"


async def test_privileged_container(node, client, dockerd) -> None:
    """privileged: true makes a privileged container (every capability, where the host
    has them all: this test host's bounding set lacks CAP_SYS_RESOURCE, so runc cannot start
    one here and the pod says so); a plain one keeps Docker's default set."""
    await client.create(secure_pod("priv", node.name, {"privileged": True}))
    await client.create(secure_pod("plain", node.name))
    assert (await node.inspect("priv"))["HostConfig"]["Privileged"] is True
    assert (await node.inspect("plain"))["HostConfig"]["Privileged"] is False
    assert not int(await node.status_line("plain", "CapEff"), 16) & (1 << 21)  # no CAP_SYS_ADMIN


async def test_run_as_non_root_refuses_an_image_that_runs_as_root(node, client) -> None:
    """busybox runs as root: runAsNonRoot without a runAsUser keeps the container in
    CreateContainerConfigError with the kubelet's words; with runAsUser 1000 it runs."""
    await client.create(secure_pod("rooted", node.name, pod_sc={"runAsNonRoot": True}))
    await client.create(secure_pod("nonroot", node.name, {"runAsUser": 1000}, {"runAsNonRoot": True}))

    async def waiting() -> dict | None:
        st = (await client.get("Pod", "rooted", NS)).get("status") or {}
        for cs in st.get("containerStatuses") or ():
            w = (cs.get("state") or {}).get("waiting") or {}
            if w.get("reason") == "CreateContainerConfigError":
                return w
        return None

    w = await eventually(waiting)
    assert w["message"].startswith("container has runAsNonRoot and image will run as root (pod: \"rooted_secctx-test(")
    assert await node.run("nonroot", "busybox", "id", "-u") == (0, "1000\n")


async def test_the_manifests_doc_example_runs(node, client) -> None:
    """docs/MANIFESTS.md's security context example, as written there, runs on a Docker node
    with the ids and the one capability the doc says."""
    import yaml

    from tests.fixtures.controlplane import REPO

    text = (REPO / "docs" / "MANIFESTS.md").read_text()
    section = text.split("## Security context", 1)[1]
    pod = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    pod["metadata"]["namespace"] = NS
    pod["spec"]["nodeName"] = node.name
    pod["spec"]["containers"][0]["name"] = "c"
    assert podsecurity.check(pod, podsecurity.Policy(NS, podsecurity.RESTRICTED)) == []
    await client.create(pod)
    assert await node.run("locked", "busybox", "id") == (0, "uid=1000 gid=3000 groups=3000,4000\n")
    assert await node.status_line("locked", "CapBnd") == "0000000000000400"
