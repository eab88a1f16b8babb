"""Server-side validation of objects that components write (nodes, events, leases, status)
and of updates."""

from __future__ import annotations

import pytest

from mixfleet.api.defaults import apply_defaults
from mixfleet.api.validation import validate, validate_propagation, validate_update

NODE = {
    "apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "win-20348-a", "labels": {
        "kubernetes.io/os": "windows", "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "h1",
        "node.kubernetes.io/windows-build": "10.0.20348"}},
    "spec": {"unschedulable": False, "taints": [{"key": "os", "value": "windows", "effect": "NoSchedule"}]},
    "status": {
        "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
        "allocatable": {"cpu": "8", "memory": "31Gi", "pods": "110"},
        "nodeInfo": {"operatingSystem": "windows", "architecture": "amd64", "kernelVersion": "10.0.20348.2655",
                     "osImage": "Windows Server 2022 Datacenter", "containerRuntimeVersion": "docker://24.0.7"},
        "platform": {"osVersion": "10.0.20348.2655", "osBuild": 20348, "windowsEdition": "server",
                     "isolationModes": ["process", "hyperv"], "defaultIsolation": "process", "lcow": False,
                     "hypervOverhead": {"cpu": "100m", "memory": "512Mi"}, "simulated": False},
        "images": [{"names": ["example/app:ltsc2022"], "os": "windows", "architecture": "amd64",
                    "osVersion": "10.0.20348.2655", "sizeBytes": 5368709120}],
        "conditions": [{"type": "Ready", "status": "True", "reason": "AgentReady",
                        "lastHeartbeatTime": "2024-05-01T12:00:00Z"}],
        "daemonEndpoint": "127.0.0.1:10250",
    },
}

BOUND_POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "app-1", "namespace": "default", "uid": "u1", "resourceVersion": "7",
                 "creationTimestamp": "2024-05-01T12:00:00Z",
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "app", "uid": "u0",
                                      "controller": True}]},
    "spec": {"nodeName": "win-20348-a", "platform": {"os": "windows", "isolation": "auto"},
             "binding": {"isolation": "process", "images": {"app": "example/app:ltsc2022"}},
             "containers": [{"name": "app", "image": "example/app:ltsc2022"}]},
    "status": {"phase": "Running", "isolation": "process", "startTime": "2024-05-01T12:00:05Z", "hostIP": "10.0.0.4",
               "conditions": [{"type": "PodScheduled", "status": "True"}],
               "containerStatuses": [{"name": "app", "image": "example/app:ltsc2022", "containerID": "docker://abc",
                                      "ready": True, "restartCount": 0,
                                      "state": {"running": {"startedAt": "2024-05-01T12:00:06Z"}},
                                      "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]},
}

EVENT = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "app-1.17a8", "namespace": "default"},
         "involvedObject": {"kind": "Pod", "name": "app-1", "namespace": "default", "uid": "u1"},
         "reason": "FailedScheduling", "type": "Warning", "count": 1,
         "message": "0/12 nodes are available: 7 node OS is windows, pod needs linux.",
         "firstTimestamp": "2024-05-01T12:00:00Z", "lastTimestamp": "2024-05-01T12:00:00Z",
         "source": {"component": "mixfleet-scheduler"}}

LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
         "metadata": {"name": "win-20348-a", "namespace": "mixfleet-node-lease"},
         "spec": {"holderIdentity": "win-20348-a", "renewTime": "2024-05-01T12:00:00.000000Z",
                  "leaseDurationSeconds": 40}}


@pytest.mark.parametrize("obj", [
    pytest.param(NODE, id="node-with-facts"),
    pytest.param(BOUND_POD, id="bound-pod-with-status"),
    pytest.param(EVENT, id="event"),
    pytest.param(LEASE, id="lease"),
    pytest.param({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-5d4f"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "c", "image": "i"}]}}},
                  "status": {"replicas": 2, "readyReplicas": 1}}, id="replicaset"),
])
def test_objects_components_write_are_valid(obj: dict) -> None:
    """Objects shaped as docs/MANIFESTS.md describes pass validation after defaulting."""
    assert validate(apply_defaults(obj)) == []


def test_node_status_problems_are_located() -> None:
    """A node agent writing a bad fact gets the path of the bad field."""
    bad = {**NODE, "status": {**NODE["status"], "capacity": {"cpu": "eight"},
                              "platform": {"isolationModes": ["process", "vm"], "osBuild": "20348"}}}
    assert [str(e) for e in validate(bad)] == [
        'status.capacity.cpu: invalid quantity "eight"',
        'status.platform.isolationModes[1]: unsupported value "vm": supported values: "process", "hyperv"',
        'status.platform.osBuild: must be an integer, got string "20348"',
    ]


@pytest.mark.parametrize("obj, message", [
    pytest.param([], "an object must be a map, got list", id="not-a-map"),
    pytest.param({"kind": "Pod"}, "apiVersion: required value", id="no-api-version"),
    pytest.param({"kind": 3, "apiVersion": "v1"}, "kind: must be a string, got integer", id="kind-type"),
    pytest.param({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "spec": []},
                 "spec: must be a map, got list", id="spec-type"),
])
def test_shapeless_objects(obj: object, message: str) -> None:
    """Objects that are not even object-shaped fail with one clear message."""
    assert [str(e) for e in validate(obj)] == [message]


def test_binding_must_name_containers() -> None:
    """The scheduler's binding may only choose images for containers the pod has."""
    pod = {**BOUND_POD, "spec": {**BOUND_POD["spec"], "binding": {"isolation": "auto", "images": {"web": "x"}}}}
    assert [str(e) for e in validate(pod)] == [
        'spec.binding.isolation: unsupported value "auto": supported values: "process", "hyperv"',
        'spec.binding.images.web: container "web" not found',
    ]


def _with(obj: dict, path: str, value: object) -> dict:
    import copy
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node = out
    for p in parents:
        node = node[p]
    node[last] = value
    return out


@pytest.mark.parametrize("path, value, error", [
    pytest.param("metadata.name", "other", "metadata.name: field is immutable", id="name"),
    pytest.param("metadata.namespace", "other", "metadata.namespace: field is immutable", id="namespace"),
    pytest.param("metadata.uid", "u9", "metadata.uid: field is immutable", id="uid"),
    pytest.param("spec.nodeName", "win-26100-b", "spec.nodeName: field is immutable", id="rebind"),
    pytest.param("spec.containers", [{"name": "other", "image": "i"}], "spec.containers: field is immutable",
                 id="container-names"),
    pytest.param("kind", "Node", "kind: field is immutable", id="kind"),
])
def test_immutable_fields(path: str, value: object, error: str) -> None:
    """Updates may not change what identifies an object or where a bound pod runs."""
    assert [str(e) for e in validate_update(BOUND_POD, _with(BOUND_POD, path, value))] == [error]


def test_allowed_updates() -> None:
    """Status, labels, images and a first binding may change."""
    pending = _with(BOUND_POD, "spec.nodeName", "")
    assert validate_update(pending, BOUND_POD) == []
    assert validate_update(BOUND_POD, _with(BOUND_POD, "status.phase", "Failed")) == []
    assert validate_update(BOUND_POD, _with(BOUND_POD, "spec.containers", [{"name": "app", "image": "new"}])) == []
    assert validate_update(BOUND_POD, _with(BOUND_POD, "metadata.uid", None)) == []


def test_deployment_selector_is_immutable() -> None:
    """A Deployment's selector cannot change once created."""
    old = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}}}
    new = _with(old, "spec.selector", {"matchLabels": {"a": "c"}})
    assert [str(e) for e in validate_update(old, new)] == ["spec.selector: field is immutable"]


@pytest.mark.parametrize("policy, ok", [("Background", True), ("Foreground", True), ("Orphan", True), ("Cascade", False)])
def test_propagation_policy(policy: str, ok: bool) -> None:
    """Delete propagation policies are Kubernetes' three."""
    assert (validate_propagation(policy) == []) is ok


def _pod(**spec: object) -> dict:
    base = {"containers": [{"name": "app", "image": "busybox"}]}
    return apply_defaults({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {**base, **spec}})


def _deploy(**spec: object) -> dict:
    base = {"selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    return apply_defaults({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                           "spec": {**base, **spec}})


WIN = {"os": "windows"}


@pytest.mark.parametrize("obj, errors", [
    pytest.param(_pod(platform={**WIN, "imageOverrides": [{"osVersion": "10.0.17763", "image": "a"},
                                                          {"osVersion": "10.0.17763.1", "image": "b"}]}),
                 ['spec.platform.imageOverrides[1].osVersion: duplicate value "10.0.17763.1"'], id="override-same-build"),
    pytest.param(_pod(platform={**WIN, "imageOverrides": [{"image": "a"}]}),
                 ["spec.platform.imageOverrides[0].osVersion: required value"], id="override-without-build"),
    pytest.param(_pod(platform={"os": "linux", "minKernelVersion": "5.10.0"}), [], id="kernel-three-parts"),
    pytest.param(_pod(platform={**WIN, "minKernelVersion": "5.10"}),
                 ["spec.platform.minKernelVersion: only valid for linux pods (this pod's OS is windows)"],
                 id="kernel-on-windows"),
    pytest.param(_pod(os={"name": "windows"}, platform={"os": "linux"}),
                 ['spec.platform.os: "linux" conflicts with spec.os.name "windows"'], id="os-conflict"),
    pytest.param(_pod(schedulingStrategy="pack"),
                 ['spec.schedulingStrategy: unsupported value "pack": supported values: "binpack", "spread"'],
                 id="scheduling-strategy"),
    pytest.param(_pod(tolerations=[{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]),
                 ["spec.tolerations[0].effect: must be NoExecute when tolerationSeconds is set"], id="toleration-seconds"),
    pytest.param(_pod(tolerations=[{"operator": "Equal", "value": "x"}]),
                 ['spec.tolerations[0].operator: invalid value "Equal": must be Exists when key is empty'],
                 id="toleration-no-key"),
    pytest.param(_pod(tolerations=[{"operator": "Exists"}]), [], id="tolerate-everything"),
    pytest.param(_pod(affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 200, "preference": {"matchExpressions": [{"key": "a", "operator": "In"}]}}]}}),
        ["spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: "
         "invalid value 200: must be less than or equal to 100",
         "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference"
         ".matchExpressions[0].values: must be specified when operator is In"], id="preferred-affinity"),
    pytest.param(_pod(affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}}]}}),
        ["spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: required value"],
        id="anti-affinity-needs-topology-key"),
    pytest.param(_pod(containers=[{"name": "app", "image": " busybox"}]),
                 ["spec.containers[0].image: must not have leading or trailing whitespace"], id="image-whitespace"),
    pytest.param(_pod(initContainers=[{"name": "app", "image": "x"}]),
                 ['spec.containers[0].name: duplicate value "app"'], id="init-container-same-name"),
    pytest.param(_deploy(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
                 ["spec.strategy.rollingUpdate: may not be specified when strategy type is Recreate"], id="recreate-rolling"),
    pytest.param(_deploy(strategy={"rollingUpdate": {"maxUnavailable": "150%"}}),
                 ['spec.strategy.rollingUpdate.maxUnavailable: invalid value "150%": must not be greater than 100%'],
                 id="unavailable-over-100"),
    pytest.param(_deploy(selector={}), ["spec.selector: required value"], id="empty-selector-map"),
    pytest.param(_deploy(template={"metadata": {"labels": {"app": "d"}, "annotations": {"not a key!": "x"}},
                                   "spec": {"containers": [{"name": "c", "image": "i"}]}}),
                 ['spec.template.metadata.annotations: invalid value "not a key!": name part must consist of '
                  "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"],
                 id="template-annotation-key"),
    pytest.param(_deploy(selector={"matchExpressions": [{"key": "app", "operator": "Exists"}]}), [], id="selector-expression"),
    pytest.param(_deploy(selector={"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]}),
                 ['spec.selector.matchExpressions[0].operator: unsupported value "Gt": supported values: "In", "NotIn", '
                  '"Exists", "DoesNotExist"'], id="selector-gt-not-allowed"),
    pytest.param(apply_defaults({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"},
                                 "spec": {"containers": [{"name": "a", "image": "b"}]}}), [], id="generate-name"),
    pytest.param(_pod(containers=[{"name": "a", "image": "b", "resources": {"requests": {"memory": "1Gi"}}}],
                      overhead={"memory": "x"}),
                 ["spec.overhead: not supported by Mixfleet (supported here: affinity, binding, "
                  "containers, initContainers, nodeName, nodeSelector, os, platform, restartPolicy, runtimeClassName, "
                  "schedulerName, schedulingStrategy, securityContext, terminationGracePeriodSeconds, tolerations, volumes)"],
                 id="overhead-not-supported"),
    pytest.param({**NODE, "spec": {"taints": [{"key": "os", "effect": "NoSchedule"}, {"key": "os", "effect": "NoSchedule"}]}},
                 ['spec.taints[1]: duplicate taint "os" with effect NoSchedule'], id="duplicate-taint"),
])
def test_semantic_rules(obj: dict, errors: list[str]) -> None:
    """Rules across fields (OS agreement, tolerations, affinity, strategy, selectors) report each problem."""
    assert [str(e) for e in validate(obj)] == errors
