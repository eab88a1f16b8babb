"""Windows pod identity on a simulated Windows node: a gMSA credential spec kept in the
cluster (GMSACredentialSpec) is inlined into the pod by the control plane and reaches the
engine as Docker's credentialspec option; runAsUserName is the container's user; the engine
refuses what HCS would (an account the container lacks, a spec naming no domain), and the
kubelet's runAsNonRoot refuses ContainerAdministrator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import pytest

from mixfleet.api.errors import InvalidObjectError
from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.engines import credspecs
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.sandbox import is_sandbox
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import FAST
from tests.nodeagent.test_agent_simulated import MCR

NODE = "win-sec"
CREDSPEC = {
    "CmsPlugins": ["ActiveDirectory"],
    "DomainJoinConfig": {"Sid": "S-1-5-21-702590844-1001920913-2680819671", "MachineAccountName": "WebApp01",
                         "Guid": "56d9b66c-d746-4f87-bd26-26760cfdca2e", "DnsTreeName": "contoso.com",
                         "DnsName": "contoso.com", "NetBiosName": "CONTOSO"},
    "ActiveDirectoryConfig": {"GroupManagedServiceAccounts": [{"Name": "WebApp01", "Scope": "contoso.com"},
                                                              {"Name": "WebApp01", "Scope": "CONTOSO"}]},
}


def credential_spec(name: str, credspec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "windows.k8s.io/v1", "kind": "GMSACredentialSpec", "metadata": {"name": name},
            "credspec": credspec}


def win_pod(name: str, *, pod_options: dict | None = None, options: dict | None = None,
            image: str = f"{MCR}:ltsc2022", **container_sc: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image, "command": ["ping", "-t", "localhost"]}
    if options is not None:
        container_sc["windowsOptions"] = options
    if container_sc:
        container["securityContext"] = container_sc
    spec: dict[str, Any] = {"nodeName": NODE, "os": {"name": "windows"}, "containers": [container],
                            "binding": {"isolation": "process"}}
    if pod_options is not None:
        spec["securityContext"] = {"windowsOptions": pod_options}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


@pytest.fixture
async def windows(client, tmp_path):
    engine = SimulatedEngine(build=20348, revision=2655, hostname=NODE,
                             images=[f"{MCR}:ltsc2022", "mcr.microsoft.com/windows/nanoserver:ltsc2022"])
    agent = Agent(client, engine, NODE, facts=engine.host_facts(),
                  config=AgentConfig(**FAST, root_dir=str(tmp_path / "agent")))
    task = asyncio.create_task(agent.run())
    yield engine
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _running(engine: SimulatedEngine, pod: dict[str, Any]) -> str:
    uid = pod["metadata"]["uid"]

    async def find() -> str | None:
        for c in await engine.list_containers():
            if c.labels.get("mixfleet.io/pod-uid") == uid and c.state.value == "running" and not is_sandbox(c):
                return c.id
        return None

    return str(await eventually(find))


async def _waiting(client: Any, name: str, reason: str) -> dict[str, Any]:
    async def find() -> dict | None:
        st = (await client.get("Pod", name, "default")).get("status") or {}
        for cs in st.get("containerStatuses") or ():
            w = (cs.get("state") or {}).get("waiting") or {}
            if w.get("reason") == reason:
                return w
        return None

    return dict(await eventually(find))


async def test_gmsa_credential_spec_reaches_the_engine(windows, client) -> None:
    """The pod names a GMSACredentialSpec; the stored pod carries its document, and the engine
    gets it as credentialspec=file://..., in its CredentialSpecs folder, with the user asked for."""
    await client.create(credential_spec("webapp01", CREDSPEC))
    pod = await client.create(win_pod("gmsa", pod_options={"gmsaCredentialSpecName": "webapp01"},
                                      options={"runAsUserName": "ContainerUser"}))
    inlined = pod["spec"]["securityContext"]["windowsOptions"]["gmsaCredentialSpec"]
    assert json.loads(inlined) == CREDSPEC
    cid = await _running(windows, pod)
    shown = windows.inspect(cid)
    assert shown["HostConfig"]["SecurityOpt"] == [credspecs.security_option(inlined)]
    assert shown["Config"]["User"] == "ContainerUser"
    assert json.loads(windows.credential_specs[credspecs.file_name(inlined)]) == CREDSPEC


async def test_what_windows_refuses_at_container_start(windows, client) -> None:
    """A credential spec that names no domain, and an account the container does not have,
    fail as HCS fails them (RunContainerError with its words)."""
    await client.create(credential_spec("nodomain", {"CmsPlugins": ["ActiveDirectory"]}))
    await client.create(win_pod("nodomain", options={"gmsaCredentialSpecName": "nodomain"}))
    await client.create(win_pod("nouser", options={"runAsUserName": "appuser"}))
    w = await _waiting(client, "nodomain", "RunContainerError")
    assert "The specified domain either does not exist or could not be contacted" in w["message"]
    w = await _waiting(client, "nouser", "RunContainerError")
    assert "The user name or password is incorrect" in w["message"]


async def test_run_as_non_root_on_windows(windows, client) -> None:
    """servercore runs as ContainerAdministrator, which the kubelet counts as root;
    nanoserver's ContainerUser passes."""
    await client.create(win_pod("admin", runAsNonRoot=True))
    user = await client.create(win_pod("user", image="mcr.microsoft.com/windows/nanoserver:ltsc2022",
                                       runAsNonRoot=True))
    w = await _waiting(client, "admin", "CreateContainerConfigError")
    assert w["message"].startswith("container's image's user (ContainerAdministrator) which will be regarded "
                                   "as root identity")
    await _running(windows, user)


async def test_gmsa_names_are_checked_at_apply(client, controlplane) -> None:
    """A name with no GMSACredentialSpec, and contents that differ from the named spec, are
    refused at apply naming the field; a controller's pod (a batched create) is inlined too."""
    from mixfleet.controlplane.registry import Create

    with pytest.raises(InvalidObjectError) as e:
        await controlplane.registry.create(win_pod("missing", options={"gmsaCredentialSpecName": "nope"}))
    assert ('spec.containers[0].securityContext.windowsOptions.gmsaCredentialSpecName: GMSACredentialSpec "nope" '
            "does not exist") in str(e.value)
    await controlplane.registry.create(credential_spec("app", CREDSPEC))
    wrong = win_pod("wrong", options={"gmsaCredentialSpecName": "app", "gmsaCredentialSpec": '{"a": 1}'})
    with pytest.raises(InvalidObjectError) as e:
        await controlplane.registry.create(wrong)
    assert 'does not match the contents of GMSACredentialSpec "app"' in str(e.value)
    same = win_pod("same", options={"gmsaCredentialSpecName": "app", "gmsaCredentialSpec": json.dumps(CREDSPEC)})
    await controlplane.registry.create(same)
    done = await controlplane.registry.txn([Create(win_pod("batched", options={"gmsaCredentialSpecName": "app"}))])
    stored = done.objects[0]
    assert json.loads(stored["spec"]["containers"][0]["securityContext"]["windowsOptions"]["gmsaCredentialSpec"]) \
        == CREDSPEC


async def test_host_process_is_refused_at_apply(controlplane) -> None:
    with pytest.raises(InvalidObjectError) as e:
        await controlplane.registry.create(win_pod("hpc", pod_options={"hostProcess": True}))
    assert ("spec.securityContext.windowsOptions.hostProcess: not supported by Mixfleet: Mixfleet's nodes run "
            "Docker Engine, which cannot run Windows HostProcess containers (containerd 1.7+ can)") in str(e.value)


async def test_the_manifests_doc_example_runs(windows, client) -> None:
    """docs/MANIFESTS.md's gMSA example, as written there, runs on a simulated Windows node
    with its credential spec and user."""
    import yaml

    from tests.fixtures.controlplane import REPO

    text = (REPO / "docs" / "MANIFESTS.md").read_text()
    section = text.split("## Security context", 1)[1]
    spec, pod = yaml.safe_load_all(section.split("```yaml\n", 2)[2].split("```", 1)[0])
    await client.create(spec)
    pod["spec"]["nodeName"] = NODE
    created = await client.create(pod)
    shown = windows.inspect(await _running(windows, created))
    assert shown["Config"]["User"] == "ContainerUser"
    assert json.loads(windows.credential_specs[shown["HostConfig"]["SecurityOpt"][0].rsplit("/", 1)[1]]) \
        == spec["credspec"]


async def test_linux_security_context_on_a_simulated_node(client, tmp_path) -> None:
    """A simulated Linux node gets what a Docker node gets: the User, groups (fsGroup among
    them), capabilities and options in the container, and the pod's emptyDir given to fsGroup."""
    import os
    import stat

    engine = SimulatedEngine(os="linux", hostname="lin-sec", images=["mixfleet/busybox:latest"])
    agent = Agent(client, engine, "lin-sec", facts=engine.host_facts(),
                  config=AgentConfig(**FAST, root_dir=str(tmp_path / "agent")))
    task = asyncio.create_task(agent.run())
    try:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lin", "namespace": "default"},
               "spec": {"nodeName": "lin-sec", "securityContext": {"runAsUser": 1000, "runAsGroup": 3000,
                                                                   "fsGroup": 2000, "supplementalGroups": [4000]},
                        "volumes": [{"name": "scratch", "emptyDir": {}}],
                        "containers": [{"name": "c", "image": "mixfleet/busybox:latest",
                                        "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                                        "securityContext": {"readOnlyRootFilesystem": True,
                                                            "allowPrivilegeEscalation": False,
                                                            "capabilities": {"drop": ["ALL"]}}}]}}
        created = await client.create(pod)
        shown = engine.inspect(await _running(engine, created))
        assert shown["Config"]["User"] == "1000:3000"
        assert shown["HostConfig"]["GroupAdd"] == ["4000", "2000"]
        assert shown["HostConfig"]["CapDrop"] == ["ALL"]
        assert shown["HostConfig"]["ReadonlyRootfs"] is True
        assert shown["HostConfig"]["SecurityOpt"] == ["no-new-privileges"]
        scratch = agent.volumes.pod_dir(created["metadata"]["uid"]) / "volumes" / "kubernetes.io~empty-dir" / "scratch"
        st = os.stat(scratch)
        assert st.st_gid == 2000 and st.st_mode & stat.S_ISGID
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_changed_pod_security_context_makes_containers_anew() -> None:
    """The container's spec hash follows the pod-level securityContext (a pod applied again
    with another runAsUser or gMSA spec gets new containers), and a pod without one keeps
    the hash it had before security contexts were honoured."""
    from mixfleet.nodeagent.podspec import spec_hash

    container = {"name": "c", "image": "busybox"}
    plain = {"spec": {"containers": [container]}}
    assert spec_hash(plain, container, host_os="linux") == spec_hash(
        {"spec": {"containers": [container], "securityContext": {}}}, container, host_os="linux")
    one = spec_hash({"spec": {"securityContext": {"runAsUser": 1}}}, container, host_os="linux")
    two = spec_hash({"spec": {"securityContext": {"runAsUser": 2}}}, container, host_os="linux")
    assert len({one, two, spec_hash(plain, container, host_os="linux")}) == 3


@pytest.mark.parametrize(("os_name", "image", "spec", "message"), [
    pytest.param("windows", f"{MCR}:ltsc2022", {"privileged": True},
                 "invalid --privileged: Windows does not support this feature", id="windows-privileged"),
    pytest.param("windows", f"{MCR}:ltsc2022", {"read_only_rootfs": True},
                 "invalid --read-only: Windows does not support this feature", id="windows-read-only"),
    pytest.param("linux", "mixfleet/busybox:latest", {"credential_spec": "{}"},
                 'invalid --security-opt 2: "credentialspec=file://', id="linux-credential-spec"),
])
async def test_the_simulated_engine_refuses_the_other_os_settings(os_name: str, image: str, spec: dict,
                                                                  message: str) -> None:
    """Past the API (which refuses them first), the simulated engine refuses what Docker on
    that OS refuses, in Docker's words."""
    from mixfleet.nodeagent.engines.base import ContainerSpec, StartError

    engine = SimulatedEngine(os=os_name, images=[image])
    with pytest.raises(StartError, match=re.escape(message)):
        await engine.create_and_start(ContainerSpec(name="c", image=image, **spec))
