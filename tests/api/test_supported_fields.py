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


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        pytest.param(_pod({"hostNetwork": True}), "spec.hostNetwork", id="hostNetwork"),
        pytest.param(_pod({"volumes": [{"name": "v", "nfs": {"server": "s", "path": "/"}}]}), "spec.volumes[0].nfs",
                     id="volumes-nfs"),
        pytest.param(_pod({"initContainers": [{"name": "i", "image": "busybox"}]}), "spec.initContainers",
                     id="initContainers"),
        pytest.param(_pod(env=[{"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                               {"name": "X", "valueFrom": {"fileKeyRef": {"path": "x", "key": "k"}}}]),
                     "spec.containers[0].env[1].valueFrom.fileKeyRef", id="env-valueFrom-fileKeyRef"),
        pytest.param(_pod(lifecycle={"preStop": {"tcpSocket": {"port": 80}}}),
                     "spec.containers[0].lifecycle.preStop.tcpSocket", id="lifecycle-tcpSocket"),
        pytest.param(_pod(volumeMounts=[{"name": "v", "mountPath": "/data", "mountPropagation": "HostToContainer"}]),
                     "spec.containers[0].volumeMounts[0].mountPropagation", id="volumeMounts-propagation"),
        pytest.param(_pod(securityContext={"privileged": True}), "spec.containers[0].securityContext",
                     id="securityContext"),
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
    for path in ("spec.hostNetwork", "spec.initContainers",
                 "spec.containers[0].securityContext"):
        assert f"{path}: not supported by Mixfleet" in res.stderr, (path, res.stderr)
    got = mixctl("get", "pod", "everything")
    assert got.returncode != 0 and "not found" in got.stderr, got
    assert isinstance(got, subprocess.CompletedProcess)
