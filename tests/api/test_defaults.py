"""Defaults, a pod's OS and isolation, and the small object helpers."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from mixfleet.api import objects, pods, times
from mixfleet.api.defaults import apply_defaults


def deployment(**spec: object) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                                                           "resources": {"limits": {"cpu": "1"}}}]}},
                     **spec}}


def test_deployment_defaults() -> None:
    """A Deployment gets Kubernetes' defaults down to its containers, and its input is untouched."""
    obj = deployment()
    before = copy.deepcopy(obj)
    out = apply_defaults(obj)
    assert obj == before
    spec = out["spec"]
    assert out["metadata"]["namespace"] == "default"
    assert (spec["replicas"], spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (1, 10, 600)
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    pod = spec["template"]["spec"]
    assert (pod["restartPolicy"], pod["terminationGracePeriodSeconds"]) == ("Always", 30)
    c = pod["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["ports"][0]["protocol"] == "TCP"
    assert c["resources"]["requests"] == {"cpu": "1"}  # a limit alone is also the request


def test_given_values_win() -> None:
    """Defaults never overwrite what the user wrote; Recreate gets no rollingUpdate."""
    out = apply_defaults(deployment(replicas=0, strategy={"type": "Recreate"}))
    assert out["spec"]["replicas"] == 0
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    pod = apply_defaults({"kind": "Pod", "metadata": {"name": "p", "namespace": "x"},
                          "spec": {"restartPolicy": "Never", "containers": [{"imagePullPolicy": "Always"}]}})
    assert pod["metadata"]["namespace"] == "x"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"


@pytest.mark.parametrize("obj", [
    pytest.param({"kind": "Node", "metadata": {"name": "n"}}, id="cluster-scoped"),
    pytest.param({"kind": "Pod", "spec": "oops"}, id="spec-not-a-map"),
    pytest.param({"kind": "Deployment", "spec": {"strategy": [], "template": {"spec": {"containers": "x"}}}}, id="wrong-types"),
    pytest.param({"kind": "Pod", "metadata": None, "spec": {"containers": [None, 3]}}, id="nulls"),
])
def test_malformed_objects_do_not_crash(obj: dict) -> None:
    """Defaulting leaves wrong-typed values for validation to report, and never raises."""
    out = apply_defaults(obj)
    assert out.get("kind") == obj["kind"]
    if obj["kind"] == "Node":
        assert "namespace" not in out["metadata"]


def pod(spec: dict | None = None, annotations: dict | None = None) -> dict:
    return {"kind": "Pod", "metadata": {"name": "p", "annotations": annotations or {}}, "spec": spec or {}}


@pytest.mark.parametrize("obj, os_name", [
    pytest.param(pod(), "linux", id="default-linux"),
    pytest.param(pod({"platform": {"os": "windows"}}), "windows", id="platform"),
    pytest.param(pod({"os": {"name": "windows"}}), "windows", id="spec-os"),
    pytest.param(pod({"nodeSelector": {"kubernetes.io/os": "windows"}}), "windows", id="node-selector"),
    pytest.param(pod({"platform": {"os": "linux"}, "os": {"name": "windows"}}), "linux", id="platform-wins"),
])
def test_pod_os(obj: dict, os_name: str) -> None:
    """A pod's OS comes from spec.platform, spec.os, the OS node selector, else linux."""
    assert pods.pod_os(obj) == os_name


HYPERV_ANNOTATION = {"experimental.windows.kubernetes.io/isolation-type": "hyperv"}


@pytest.mark.parametrize("obj, isolation", [
    pytest.param(pod(), None, id="unsaid"),
    pytest.param(pod({"platform": {"isolation": "auto"}}), "auto", id="platform"),
    pytest.param(pod({"runtimeClassName": "runhcs-wcow-process"}), "process", id="runtime-class-process"),
    pytest.param(pod({"runtimeClassName": "runhcs-wcow-hypervisor"}), "hyperv", id="runtime-class-hyperv"),
    pytest.param(pod({"runtimeClassName": "gvisor"}), None, id="other-runtime-class"),
    pytest.param(pod(annotations=HYPERV_ANNOTATION), "hyperv", id="annotation"),
    pytest.param(pod({"platform": {"isolation": "process"}, "runtimeClassName": "runhcs-wcow-hypervisor"},
                     HYPERV_ANNOTATION), "process", id="platform-wins"),
    pytest.param(pod({"runtimeClassName": "runhcs-wcow-process"}, HYPERV_ANNOTATION), "process",
                 id="runtime-class-beats-annotation"),
])
def test_isolation_from_pod(obj: dict, isolation: str | None) -> None:
    """Isolation: spec.platform.isolation, then runtimeClassName, then the old annotation."""
    assert pods.isolation(obj) == isolation


def test_owner_references() -> None:
    """An owner reference made from a ReplicaSet marks its pods as controlled by it."""
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "uid": "u1"}}
    ref = objects.owner_reference(rs)
    assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1",
                   "controller": True, "blockOwnerDeletion": True}
    child = {"metadata": {"name": "web-1-x", "ownerReferences": [ref]}}
    assert objects.controller_of(child) == ref
    assert objects.is_owned_by(child, rs)
    assert not objects.is_owned_by(child, {"metadata": {"uid": "u2"}})
    assert objects.controller_of({"metadata": {}}) is None


def test_timestamps_round_trip() -> None:
    """now() writes UTC RFC 3339 that parse_time reads back."""
    stamp = times.now()
    assert stamp.endswith("Z")
    parsed = times.parse_time(stamp)
    assert parsed.tzinfo is not None
    assert times.format_time(parsed) == stamp
    assert times.parse_time("2024-05-01T12:00:00.5+02:00") == dt.datetime(2024, 5, 1, 10, 0, 0, 500000, dt.timezone.utc)


def test_describe() -> None:
    """Objects are named Kind/name in messages."""
    assert objects.describe({"kind": "Pod", "metadata": {"name": "web-0"}}) == "Pod/web-0"
    assert objects.describe({"kind": "Pod", "metadata": {}}) == "Pod"
