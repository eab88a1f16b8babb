"""Every field Mixfleet accepts, it honours; every other Kubernetes field is refused at
apply, naming it (issue 10's rule). Before, the schema knew every Kubernetes field and most
were then dropped without a word: a Pod with hostNetwork, a hostPath volume, an init
container, envFrom/secretKeyRef, a liveness probe and a privileged securityContext applied
cleanly and the container got none of it."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from kubernetes import client as k8s

from mixfleet.api import supported
from mixfleet.api.validation import validate
from tests.cli.conftest import Mixctl, cp, mixctl  # noqa: F401 (fixtures)


def _pod(spec: dict[str, Any] | None = None, **container: Any) -> dict[str, Any]:
    c = {"name": "c", "image": "busybox:latest", **container}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [c], **(spec or {})}}


def _sample(type_name: str, depth: int = 0) -> Any:
    """A non-empty value of an OpenAPI type of the Kubernetes client's models."""
    if type_name == "str":
        return "x"
    if type_name in ("int", "float"):
        return 1
    if type_name == "bool":
        return True
    if type_name.startswith("list["):
        return [_sample(type_name[5:-1], depth + 1)]
    if type_name.startswith("dict("):
        return {"k": "v"}
    model = getattr(k8s, type_name, None)
    if model is None or depth > 4:
        return "x"
    name, sub = next(iter(model.openapi_types.items()))
    return {model.attribute_map[name]: _sample(sub, depth + 1)}


def _fields(model: Any) -> list[tuple[str, str]]:
    return [(model.attribute_map[n], t) for n, t in model.openapi_types.items()]


def _not_supported(obj: dict[str, Any]) -> set[str]:
    return {e.path for e in validate(obj) if supported.NOT_SUPPORTED in e.message}


@pytest.mark.parametrize(("field", "type_name"), _fields(k8s.V1PodSpec), ids=lambda v: str(v))
def test_every_pod_spec_field_is_honoured_or_refused(field: str, type_name: str) -> None:
    """Each field of the Kubernetes PodSpec is in Mixfleet's supported set, or refused by
    name with 'not supported by Mixfleet'."""
    if field == "containers":
        return
    refused = _not_supported(_pod({field: _sample(type_name)}))
    path = f"spec.{field}"
    if field in supported.POD_SPEC:
        assert path not in refused
    else:
        assert path in refused


@pytest.mark.parametrize(("field", "type_name"), _fields(k8s.V1Container), ids=lambda v: str(v))
def test_every_container_field_is_honoured_or_refused(field: str, type_name: str) -> None:
    """Each field of the Kubernetes Container likewise."""
    if field in ("name", "image"):
        return
    refused = _not_supported(_pod(**{field: _sample(type_name)}))
    path = f"spec.containers[0].{field}"
    if field in supported.CONTAINER:
        assert not any(p == path for p in refused)
    else:
        assert path in refused


_WINDOWS = {"os": {"name": "windows"}}


@pytest.mark.parametrize(("field", "type_name"), _fields(k8s.V1SecurityContext), ids=lambda v: str(v))
def test_every_container_security_context_field_is_honoured_or_refused(field: str, type_name: str) -> None:
    """Each field of a container's securityContext, on a Linux and on a Windows pod."""
    table = supported.CONTAINER_SECURITY_CONTEXT
    path = f"spec.containers[0].securityContext.{field}"
    for spec in ({}, _WINDOWS):
        refused = _not_supported(_pod(spec, securityContext={field: _sample(type_name)}))
        assert (path in refused) is (field not in table), (field, spec)


@pytest.mark.parametrize(("field", "type_name"), _fields(k8s.V1PodSecurityContext), ids=lambda v: str(v))
def test_every_pod_security_context_field_is_honoured_or_refused(field: str, type_name: str) -> None:
    """Each field of the pod's securityContext likewise (fsGroup, sysctls, seLinuxOptions... refused)."""
    path = f"spec.securityContext.{field}"
    refused = _not_supported(_pod({"securityContext": {field: _sample(type_name)}}))
    assert (path in refused) is (field not in supported.POD_SECURITY_CONTEXT), field


@pytest.mark.parametrize(("field", "type_name"), _fields(k8s.V1WindowsSecurityContextOptions),
                         ids=lambda v: str(v))
def test_every_windows_option_is_honoured_or_refused(field: str, type_name: str) -> None:
    """windowsOptions' fields: runAsUserName and the gMSA pair honoured, hostProcess refused
    with the reason (Docker cannot run HostProcess containers)."""
    value = {"gmsaCredentialSpec": "{}", "runAsUserName": "ContainerUser"}.get(field, _sample(type_name))
    opts = {field: value, "gmsaCredentialSpecName": "web"}
    errs = validate(_pod(_WINDOWS, securityContext={"windowsOptions": opts}))
    path = f"spec.containers[0].securityContext.windowsOptions.{field}"
    refused = {e.path: e.message for e in errs if supported.NOT_SUPPORTED in e.message}
    if field == "hostProcess":
        assert "Docker Engine, which cannot run Windows HostProcess containers (containerd 1.7+ can)" in refused[path]
    else:
        assert errs == [], errs


@pytest.mark.parametrize(
    ("spec", "container", "path", "message"),
    [
        pytest.param(_WINDOWS, {"runAsUser": 1000}, "spec.containers[0].securityContext.runAsUser",
                     "cannot be set for a windows pod", id="windows-runAsUser"),
        pytest.param(_WINDOWS, {"capabilities": {"drop": ["ALL"]}}, "spec.containers[0].securityContext.capabilities",
                     "cannot be set for a windows pod", id="windows-capabilities"),
        pytest.param({**_WINDOWS, "securityContext": {"supplementalGroups": [5]}}, {},
                     "spec.securityContext.supplementalGroups", "cannot be set for a windows pod",
                     id="windows-supplementalGroups"),
        pytest.param({}, {"windowsOptions": {"runAsUserName": "ContainerUser"}},
                     "spec.containers[0].securityContext.windowsOptions", "cannot be set for a linux pod",
                     id="linux-windowsOptions"),
        pytest.param({}, {"runAsGroup": 5}, "spec.containers[0].securityContext.runAsGroup", "needs runAsUser",
                     id="group-without-user"),
        pytest.param({"securityContext": {"fsGroup": 2000, "fsGroupChangePolicy": "Never"}}, {},
                     "spec.securityContext.fsGroupChangePolicy", 'unsupported value "Never"', id="fs-group-policy"),
        pytest.param({**_WINDOWS, "securityContext": {"fsGroup": 2000}}, {}, "spec.securityContext.fsGroup",
                     "cannot be set for a windows pod", id="windows-fsGroup"),
        pytest.param({}, {"runAsUser": -1}, "spec.containers[0].securityContext.runAsUser",
                     "must be between 0 and 2147483647", id="negative-uid"),
        pytest.param({"securityContext": {"runAsNonRoot": True}}, {"runAsUser": 0},
                     "spec.containers[0].securityContext.runAsUser", "could never start", id="non-root-uid-0"),
        pytest.param({}, {"capabilities": {"add": ["NET_ADMINN"]}},
                     "spec.containers[0].securityContext.capabilities.add[0]", 'unknown capability "NET_ADMINN"',
                     id="unknown-capability"),
        pytest.param({}, {"privileged": True, "allowPrivilegeEscalation": False},
                     "spec.containers[0].securityContext.allowPrivilegeEscalation",
                     "cannot be false when privileged is true", id="privileged-no-escalation"),
        pytest.param({}, {"seccompProfile": {"type": "Localhost"}},
                     "spec.containers[0].securityContext.seccompProfile.type", "Localhost profile",
                     id="seccomp-localhost"),
        pytest.param(_WINDOWS, {"windowsOptions": {"runAsUserName": "a\\b\\c"}},
                     "spec.containers[0].securityContext.windowsOptions.runAsUserName", "more than one backslash",
                     id="windows-user-name"),
        pytest.param(_WINDOWS, {"windowsOptions": {"runAsUserName": "ContainerAdministrator"}, "runAsNonRoot": True},
                     "spec.containers[0].securityContext.windowsOptions.runAsUserName", "regards as root",
                     id="windows-non-root-admin"),
        pytest.param(_WINDOWS, {"windowsOptions": {"gmsaCredentialSpec": "{}"}},
                     "spec.containers[0].securityContext.windowsOptions.gmsaCredentialSpec",
                     "gmsaCredentialSpecName", id="gmsa-contents-without-name"),
    ],
)
def test_security_context_rules(spec: dict, container: dict, path: str, message: str) -> None:
    """What a securityContext may not say, refused at apply naming the field and why."""
    errs = validate(_pod(spec, securityContext=container))
    assert any(e.path == path and message in e.message for e in errs), errs


def test_a_linux_security_context_the_engines_honour_is_accepted() -> None:
    locked = {"runAsUser": 1000, "runAsGroup": 3000, "runAsNonRoot": True, "readOnlyRootFilesystem": True,
              "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["CAP_NET_BIND_SERVICE"]},
              "seccompProfile": {"type": "RuntimeDefault"}}
    pod_level = {"securityContext": {"runAsUser": 1000, "supplementalGroups": [4000]}}
    assert validate(_pod(pod_level, securityContext=locked)) == []


@pytest.mark.parametrize(("field", "type_name"), _fields(k8s.V1Container), ids=lambda v: str(v))
def test_every_init_container_field_is_honoured_or_refused(field: str, type_name: str) -> None:
    """Each Container field in an init container: honoured as in an app container, except
    probes and lifecycle hooks (which Kubernetes forbids there), refused by name."""
    if field in ("name", "image"):
        return
    init = {"name": "i", "image": "busybox", field: _sample(type_name)}
    refused = _not_supported(_pod({"initContainers": [init]}))
    path = f"spec.initContainers[0].{field}"
    if field in supported.INIT_CONTAINER:
        assert not any(p == path for p in refused)
        assert field in supported.CONTAINER
    else:
        assert path in refused


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        pytest.param(_pod({"hostNetwork": True}), "spec.hostNetwork", id="hostNetwork"),
        pytest.param(_pod({"volumes": [{"name": "v", "nfs": {"server": "s", "path": "/"}}]}), "spec.volumes[0].nfs",
                     id="volumes-nfs"),
        pytest.param(_pod({"initContainers": [{"name": "i", "image": "busybox",
                                               "readinessProbe": {"exec": {"command": ["true"]}}}]}),
                     "spec.initContainers[0].readinessProbe", id="init-container-probe"),
        pytest.param(_pod(env=[{"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                               {"name": "X", "valueFrom": {"fileKeyRef": {"path": "x", "key": "k"}}}]),
                     "spec.containers[0].env[1].valueFrom.fileKeyRef", id="env-valueFrom-fileKeyRef"),
        pytest.param(_pod(lifecycle={"preStop": {"tcpSocket": {"port": 80}}}),
                     "spec.containers[0].lifecycle.preStop.tcpSocket", id="lifecycle-tcpSocket"),
        pytest.param(_pod(volumeMounts=[{"name": "v", "mountPath": "/data", "mountPropagation": "HostToContainer"}]),
                     "spec.containers[0].volumeMounts[0].mountPropagation", id="volumeMounts-propagation"),
        pytest.param(_pod(securityContext={"seLinuxOptions": {"user": "u"}}),
                     "spec.containers[0].securityContext.seLinuxOptions", id="securityContext-seLinuxOptions"),
        pytest.param(_pod({"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}}),
                     "spec.securityContext.sysctls", id="securityContext-sysctls"),
        pytest.param(_pod(resources={"limits": {"nvidia.com/gpu": 1}}),
                     "spec.containers[0].resources.limits[nvidia.com/gpu]", id="extended-resource"),
        pytest.param({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                      "spec": {"replicas": 1, "paused": True, "selector": {"matchLabels": {"a": "b"}},
                               "template": {"metadata": {"labels": {"a": "b"}},
                                            "spec": {"containers": [{"name": "c", "image": "i"}]}}}},
                     "spec.paused", id="deployment-paused"),
    ],
)
def test_fields_the_issue_found_dropped_are_refused(obj: dict[str, Any], path: str) -> None:
    """The fields that used to be accepted and dropped are refused, naming the field."""
    errs = [str(e) for e in validate(obj)]
    assert any(e.startswith(f"{path}: {supported.NOT_SUPPORTED}") for e in errs), errs


def test_zero_values_ask_for_nothing() -> None:
    """`kubectl get -o yaml` output (hostNetwork: false, securityContext: {}) still applies."""
    assert validate(_pod({"hostNetwork": False, "securityContext": {}}, securityContext={}, volumeMounts=[])) == []


ISSUE_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: everything}
spec:
  hostNetwork: true
  volumes: [{name: v, hostPath: {path: /}}]
  initContainers: [{name: init, image: busybox}]
  containers:
  - name: c
    image: busybox
    envFrom: [{secretRef: {name: db}}]
    env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: db, key: pw}}}]
    livenessProbe: {httpGet: {path: /healthz, port: 80}}
    volumeMounts: [{name: v, mountPath: /data}]
    securityContext: {privileged: true}
"""


def test_mixctl_apply_refuses_the_issue_pod_naming_each_field(mixctl: Mixctl) -> None:  # noqa: F811
    """mixctl apply of the issue's pod exits 1 naming every unsupported field, with no
    traceback, and creates nothing."""
    res = mixctl("apply", "-f", "-", input=ISSUE_POD)
    assert res.returncode == 1, res.stdout
    assert "Traceback" not in res.stderr
    for path in ("spec.hostNetwork",):
        assert f"{path}: not supported by Mixfleet" in res.stderr, (path, res.stderr)
    got = mixctl("get", "pod", "everything")
    assert got.returncode != 0 and "not found" in got.stderr, got
    assert isinstance(got, subprocess.CompletedProcess)
