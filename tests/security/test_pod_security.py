"""Pod Security levels per namespace (issue 11, item 5): what a namespace's level forbids is
refused at apply, naming the field and the level, through mixctl against a real control
plane; what it allows goes through; controllers' pods are held to the same rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mixfleet.api import podsecurity
from mixfleet.api.errors import InvalidObjectError
from tests.cli.conftest import Mixctl
from tests.controllers.conftest import deployment


def namespace(name: str, level: str | None = None, **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if level:
        meta["labels"] = {podsecurity.ENFORCE_LABEL: level}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def pod(name: str, ns: str, *, host_port: int | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "busybox:latest"}
    if host_port:
        container["ports"] = [{"containerPort": 80, "hostPort": host_port}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [container], **spec}}


def apply(mixctl: Mixctl, tmp_path: Path, *docs: dict[str, Any]) -> Any:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return mixctl("apply", "-f", str(path))


def test_baseline_is_the_default_and_names_field_and_level(mixctl: Mixctl, tmp_path: Path) -> None:
    r = apply(mixctl, tmp_path, namespace("psa-default"), pod("web", "psa-default", host_port=80))
    assert r.returncode == 1, r.stdout
    assert ('spec.containers[0].ports[0].hostPort: forbidden by Pod Security level "baseline" of '
            'namespace "psa-default" (host ports below 1024: 80') in r.stderr
    assert "Traceback" not in r.stderr
    # Nothing of the file was applied: not even the namespace.
    assert "psa-default" not in mixctl("get", "namespaces").stdout


def test_a_privileged_namespace_accepts_what_baseline_refuses(mixctl: Mixctl, tmp_path: Path) -> None:
    r = apply(mixctl, tmp_path, namespace("psa-priv", "privileged"), pod("web", "psa-priv", host_port=80))
    assert r.returncode == 0, r.stderr
    assert "pod/web" in mixctl("get", "pods", "-n", "psa-priv", "-o", "name").stdout


def test_allowed_host_ports_and_unprivileged_ports(mixctl: Mixctl, tmp_path: Path) -> None:
    ns = namespace("psa-ports", **{podsecurity.ALLOWED_HOST_PORTS: "80, 443"})
    r = apply(mixctl, tmp_path, ns, pod("a", "psa-ports", host_port=80), pod("b", "psa-ports", host_port=8080))
    assert r.returncode == 0, r.stderr
    r = apply(mixctl, tmp_path, pod("c", "psa-ports", host_port=22))
    assert r.returncode == 1 and "hostPort" in r.stderr and "22" in r.stderr


def test_workload_templates_are_checked_at_apply(mixctl: Mixctl, tmp_path: Path) -> None:
    """A Deployment whose pods would all be refused is refused itself, at apply, instead of
    being accepted and then never making a pod (Kubernetes only warns there)."""
    d = deployment("web", replicas=2)
    d["metadata"]["namespace"] = "psa-deploy"
    d["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 443}]
    r = apply(mixctl, tmp_path, namespace("psa-deploy"), d)
    assert r.returncode == 1
    assert "spec.template.spec.containers[0].ports[0].hostPort: forbidden" in r.stderr


def test_restricted_asks_for_a_locked_down_pod(mixctl: Mixctl, tmp_path: Path) -> None:
    r = apply(mixctl, tmp_path, namespace("psa-restricted", "restricted"), pod("plain", "psa-restricted"))
    assert r.returncode == 1
    for field in ("securityContext.allowPrivilegeEscalation", "securityContext.runAsNonRoot",
                  "securityContext.seccompProfile.type", "securityContext.capabilities.drop"):
        assert f"spec.containers[0].{field}: forbidden by Pod Security level \"restricted\"" in r.stderr


def test_raising_a_namespace_level_holds_back_later_pods(mixctl: Mixctl, tmp_path: Path) -> None:
    assert apply(mixctl, tmp_path, namespace("psa-raise", "privileged"),
                 pod("old", "psa-raise", host_port=80)).returncode == 0
    r = apply(mixctl, tmp_path, namespace("psa-raise", "baseline"))
    assert r.returncode == 0, r.stderr
    # The pod already there stays (Kubernetes does not evict either)...
    assert "pod/old" in mixctl("get", "pods", "-n", "psa-raise", "-o", "name").stdout
    # ...and a new one is held to the new level.
    r = apply(mixctl, tmp_path, pod("new", "psa-raise", host_port=80))
    assert r.returncode == 1 and 'level "baseline"' in r.stderr


@pytest.mark.parametrize("labels, message", [
    ({podsecurity.ENFORCE_LABEL: "strict"}, 'invalid value "strict": must be one of privileged, baseline, restricted'),
    ({"pod-security.kubernetes.io/warn": "baseline"}, "only the enforce mode"),
    ({podsecurity.VERSION_LABEL: "1.2.3"}, 'invalid value "1.2.3"'),
])
def test_bad_namespace_labels_are_refused(mixctl: Mixctl, tmp_path: Path, labels: dict, message: str) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "psa-bad", "labels": labels}}
    r = apply(mixctl, tmp_path, ns)
    assert r.returncode == 1
    assert message in r.stderr


async def test_controllers_pods_are_held_to_the_level(controlplane: Any) -> None:
    """A controller's batched create (how a ReplicaSet makes pods) is refused like a user's,
    so it records FailedCreate instead of running what the namespace forbids."""
    from mixfleet.controlplane.registry import Create

    registry = controlplane.registry
    await registry.create(namespace("psa-txn"))
    with pytest.raises(InvalidObjectError) as e:
        await registry.txn([Create(pod("p", "psa-txn", host_port=80))])
    assert 'Pod/p' in str(e.value) and 'level "baseline"' in str(e.value)
    await registry.txn([Create(pod("q", "psa-txn", host_port=8080))])


# ---- the rules, field by field (each level's refusals and what it leaves alone) ------------

def _spec(**fields: Any) -> dict[str, Any]:
    return {"kind": "Pod", "spec": {"containers": [{"name": "c", "image": "i", **fields.pop("c", {})}], **fields}}


BASELINE_REFUSED = [
    (_spec(hostNetwork=True), "spec.hostNetwork"),
    (_spec(hostPID=True), "spec.hostPID"),
    (_spec(hostIPC=True), "spec.hostIPC"),
    (_spec(c={"securityContext": {"privileged": True}}), "spec.containers[0].securityContext.privileged"),
    (_spec(c={"securityContext": {"capabilities": {"add": ["CHOWN", "SYS_ADMIN"]}}}),
     "spec.containers[0].securityContext.capabilities.add[1]"),
    (_spec(volumes=[{"name": "root", "hostPath": {"path": "/"}}]), "spec.volumes[0].hostPath"),
    (_spec(securityContext={"windowsOptions": {"hostProcess": True}}), "spec.securityContext.windowsOptions.hostProcess"),
    (_spec(c={"securityContext": {"seccompProfile": {"type": "Unconfined"}}}),
     "spec.containers[0].securityContext.seccompProfile.type"),
    (_spec(securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}), "spec.securityContext.sysctls[0]"),
    (_spec(c={"securityContext": {"procMount": "Unmasked"}}), "spec.containers[0].securityContext.procMount"),
    (_spec(c={"securityContext": {"seLinuxOptions": {"user": "root"}}}),
     "spec.containers[0].securityContext.seLinuxOptions.user"),
    # An init container's ports are published by the pod's sandbox as the app containers' are.
    (_spec(initContainers=[{"name": "i", "image": "i", "ports": [{"containerPort": 80, "hostPort": 80}]}]),
     "spec.initContainers[0].ports[0].hostPort"),
]


@pytest.mark.parametrize("obj, path", BASELINE_REFUSED)
def test_baseline_refuses(obj: dict, path: str) -> None:
    found = podsecurity.check(obj, podsecurity.Policy("ns", "baseline"))
    assert [e.path for e in found] == [path]
    assert podsecurity.check(obj, podsecurity.Policy("ns", "privileged")) == []


def test_baseline_leaves_default_capabilities_and_safe_sysctls() -> None:
    obj = _spec(securityContext={"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1 2"}]},
                c={"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE", "CHOWN"]}}})
    assert podsecurity.check(obj, podsecurity.Policy("ns", "baseline")) == []


def test_restricted_accepts_a_locked_down_pod() -> None:
    locked = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
              "seccompProfile": {"type": "RuntimeDefault"},
              "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
    obj = _spec(c={"securityContext": locked}, volumes=[{"name": "d", "emptyDir": {}}])
    assert podsecurity.check(obj, podsecurity.Policy("ns", "restricted")) == []
    # A Windows pod is not asked for the Linux-only settings.
    win = _spec(os={"name": "windows"}, securityContext={"runAsNonRoot": True})
    assert podsecurity.check(win, podsecurity.Policy("ns", "restricted")) == []
    root = _spec(c={"securityContext": {**locked, "runAsUser": 0}})
    assert [e.path for e in podsecurity.check(root, podsecurity.Policy("ns", "restricted"))] == [
        "spec.containers[0].securityContext.runAsUser"]


def test_every_template_kind_is_checked() -> None:
    bad = {"containers": [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]}
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": bad}}}}}
    assert [e.path for e in podsecurity.check(cron, podsecurity.Policy("ns", "baseline"))] == [
        "spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged"]


# ---- against a real node -------------------------------------------------------------------

@pytest.mark.docker
async def test_a_privileged_pod_refused_in_baseline_and_accepted_in_privileged(client: Any, dockerd: Any,
                                                                               tmp_path: Path) -> None:
    """The same privileged pod is refused in a baseline namespace, naming the field and the
    level, and in a privileged namespace reaches a real Docker node as a privileged container."""
    from mixfleet.client import InvalidError
    from tests.nodeagent.test_security_docker import Node as DockerNode
    from tests.nodeagent.test_security_docker import running_agent

    def privileged_pod(ns: str, node: str) -> dict[str, Any]:
        p = pod("root-shell", ns, nodeName=node, terminationGracePeriodSeconds=0)
        p["spec"]["containers"][0].update(image="mixfleet/busybox:latest", command=["sleep", "3600"],
                                          securityContext={"privileged": True})
        return p

    await client.apply([namespace("psa-locked", "baseline"), namespace("psa-open", "privileged")])
    async with running_agent(client, dockerd, tmp_path) as node:
        with pytest.raises(InvalidError) as e:
            await client.create(privileged_pod("psa-locked", node.name))
        assert ('spec.containers[0].securityContext.privileged: forbidden by Pod Security level "baseline" of '
                'namespace "psa-locked" (privileged containers)') in str(e.value)
        await client.create(privileged_pod("psa-open", node.name))
        seen = DockerNode(client, node.engine, node.name, "psa-open", engine_url=dockerd.socket_url)
        assert (await seen.inspect("root-shell"))["HostConfig"]["Privileged"] is True


def test_gmsa_credential_specs_through_mixctl(mixctl: Mixctl, tmp_path: Path) -> None:
    """docs/MANIFESTS.md's gMSA example applies with mixctl: the GMSACredentialSpec is listed,
    and the pod carries the spec's document; a pod naming a spec that does not exist is
    refused naming the field."""
    from tests.fixtures.controlplane import REPO

    text = (REPO / "docs" / "MANIFESTS.md").read_text()
    block = text.split("## Security context", 1)[1].split("```yaml\n", 2)[2].split("```", 1)[0]
    path = tmp_path / "gmsa.yaml"
    path.write_text(block)
    r = mixctl("apply", "-f", str(path))
    assert r.returncode == 0, r.stderr
    assert "gmsacredentialspec.windows.k8s.io/webapp01 created" in r.stdout, r.stdout
    assert "webapp01" in mixctl("get", "gmsacredentialspecs").stdout
    shown = yaml.safe_load(mixctl("get", "pod", "iis", "-o", "yaml").stdout)
    assert '"DnsName":"contoso.com"' in shown["spec"]["securityContext"]["windowsOptions"]["gmsaCredentialSpec"]
    path.write_text(block.split("---\n", 1)[1].replace("name: iis", "name: iis2").replace("webapp01", "nope"))
    r = mixctl("apply", "-f", str(path))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert ('spec.securityContext.windowsOptions.gmsaCredentialSpecName: GMSACredentialSpec "nope" does not '
            "exist") in r.stderr
