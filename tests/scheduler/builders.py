"""Builders for Node and Pod dicts in the shapes of docs/MANIFESTS.md.

    make_node("w1").windows(build=20348).hyperv().cpu("4").memory("8Gi").obj()
    make_pod("p").windows(os_version="10.0.20348.2655").requests(cpu="1", memory="1Gi").obj()
"""

from __future__ import annotations

import copy
from typing import Any


class NodeBuilder:
    def __init__(self, name: str) -> None:
        self._n: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name},
            },
            "spec": {},
            "status": {
                "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "nodeInfo": {"operatingSystem": "linux", "architecture": "amd64"},
                "platform": {"kernelVersion": "6.1.0-18-amd64"},
                "images": [],
                "conditions": [{"type": "Ready", "status": "True", "reason": "AgentReady"}],
            },
        }

    @property
    def _labels(self) -> dict:
        return self._n["metadata"]["labels"]

    @property
    def _platform(self) -> dict:
        return self._n["status"]["platform"]

    def linux(self, *, kernel: str = "6.1.0-18-amd64") -> NodeBuilder:
        self._labels["kubernetes.io/os"] = "linux"
        self._n["status"]["nodeInfo"]["operatingSystem"] = "linux"
        self._n["status"]["platform"] = {"kernelVersion": kernel}
        return self

    def windows(self, *, build: int = 20348, revision: int = 1000, edition: str = "server") -> NodeBuilder:
        version = f"10.0.{build}.{revision}"
        self._labels.update({"kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": f"10.0.{build}"})
        self._n["status"]["nodeInfo"].update({"operatingSystem": "windows", "kernelVersion": version})
        self._n["status"]["platform"] = {
            "osVersion": version,
            "osBuild": build,
            "windowsEdition": edition,
            "isolationModes": ["process"],
            "defaultIsolation": "process",
            "lcow": False,
        }
        return self

    def hyperv(self, *, cpu: str | None = None, memory: str | None = None, only: bool = False) -> NodeBuilder:
        modes = self._platform.setdefault("isolationModes", [])
        if only:
            modes.clear()
        if "hyperv" not in modes:
            modes.append("hyperv")
        if cpu or memory:
            self._platform["hypervOverhead"] = {"cpu": cpu or "0", "memory": memory or "0"}
        return self

    def lcow(self) -> NodeBuilder:
        self._platform["lcow"] = True
        return self

    def arch(self, arch: str) -> NodeBuilder:
        self._labels["kubernetes.io/arch"] = arch
        self._n["status"]["nodeInfo"]["architecture"] = arch
        return self

    def cpu(self, q: str) -> NodeBuilder:
        self._n["status"]["allocatable"]["cpu"] = self._n["status"]["capacity"]["cpu"] = q
        return self

    def memory(self, q: str) -> NodeBuilder:
        self._n["status"]["allocatable"]["memory"] = self._n["status"]["capacity"]["memory"] = q
        return self

    def max_pods(self, n: int) -> NodeBuilder:
        self._n["status"]["allocatable"]["pods"] = self._n["status"]["capacity"]["pods"] = str(n)
        return self

    def label(self, key: str, value: str) -> NodeBuilder:
        self._labels[key] = value
        return self

    def taint(self, key: str, value: str = "", effect: str = "NoSchedule") -> NodeBuilder:
        self._n["spec"].setdefault("taints", []).append({"key": key, "value": value, "effect": effect})
        return self

    def cordoned(self) -> NodeBuilder:
        self._n["spec"]["unschedulable"] = True
        return self

    def not_ready(self, status: str = "False") -> NodeBuilder:
        self._n["status"]["conditions"] = [{"type": "Ready", "status": status, "reason": "AgentStopped"}]
        return self

    def disk_pressure(self, status: str = "True") -> NodeBuilder:
        self._n["status"]["conditions"].append({"type": "DiskPressure", "status": status, "reason": "DiskPressure"})
        return self

    def image(self, name: str, *, os_version: str | None = None, size: int = 100 << 20, os: str | None = None, arch: str = "amd64") -> NodeBuilder:
        img: dict[str, Any] = {"names": [name], "os": os or self._labels["kubernetes.io/os"], "architecture": arch, "sizeBytes": size}
        if os_version:
            img["osVersion"] = os_version
        self._n["status"]["images"].append(img)
        return self

    def obj(self) -> dict:
        return copy.deepcopy(self._n)


class PodBuilder:
    def __init__(self, name: str, *, namespace: str = "default") -> None:
        self._p: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}", "labels": {}},
            "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
        }

    @property
    def _spec(self) -> dict:
        return self._p["spec"]

    @property
    def _platform(self) -> dict:
        return self._spec.setdefault("platform", {})

    def windows(self, *, os_version: str | None = None, isolation: str | None = None) -> PodBuilder:
        self._platform["os"] = "windows"
        if os_version:
            self._platform["osVersion"] = os_version
        if isolation:
            self._platform["isolation"] = isolation
        return self

    def linux(self, *, min_kernel: str | None = None) -> PodBuilder:
        self._platform["os"] = "linux"
        if min_kernel:
            self._platform["minKernelVersion"] = min_kernel
        return self

    def image(self, image: str, *, container: str = "app") -> PodBuilder:
        for c in self._spec["containers"]:
            if c["name"] == container:
                c["image"] = image
                return self
        self._spec["containers"].append({"name": container, "image": image})
        return self

    def override(self, os_version: str, image: str, container: str | None = None) -> PodBuilder:
        entry = {"osVersion": os_version, "image": image}
        if container:
            entry["container"] = container
        self._platform.setdefault("imageOverrides", []).append(entry)
        return self

    def requests(self, *, cpu: str | None = None, memory: str | None = None) -> PodBuilder:
        req = self._spec["containers"][0].setdefault("resources", {}).setdefault("requests", {})
        if cpu:
            req["cpu"] = cpu
        if memory:
            req["memory"] = memory
        return self

    def labels(self, **labels: str) -> PodBuilder:
        self._p["metadata"]["labels"].update(labels)
        return self

    def node_selector(self, **sel: str) -> PodBuilder:
        self._spec.setdefault("nodeSelector", {}).update({k.replace("__", "/").replace("_", "."): v for k, v in sel.items()})
        return self

    def selector(self, key: str, value: str) -> PodBuilder:
        self._spec.setdefault("nodeSelector", {})[key] = value
        return self

    def require(self, key: str, op: str, values: list[str] | None = None) -> PodBuilder:
        terms = (
            self._spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
            .setdefault("requiredDuringSchedulingIgnoredDuringExecution", {}).setdefault("nodeSelectorTerms", [{"matchExpressions": []}])
        )
        expr: dict[str, Any] = {"key": key, "operator": op}
        if values is not None:
            expr["values"] = values
        terms[0]["matchExpressions"].append(expr)
        return self

    def prefer(self, key: str, op: str, values: list[str] | None = None, *, weight: int = 10) -> PodBuilder:
        prefs = self._spec.setdefault("affinity", {}).setdefault("nodeAffinity", {}).setdefault("preferredDuringSchedulingIgnoredDuringExecution", [])
        expr: dict[str, Any] = {"key": key, "operator": op}
        if values is not None:
            expr["values"] = values
        prefs.append({"weight": weight, "preference": {"matchExpressions": [expr]}})
        return self

    def tolerate(self, key: str = "", value: str = "", effect: str = "", operator: str = "Equal") -> PodBuilder:
        t = {"key": key, "operator": operator, "effect": effect}
        if value:
            t["value"] = value
        self._spec.setdefault("tolerations", []).append(t)
        return self

    def anti_affinity(self, *, required: bool = True, weight: int = 100, **match: str) -> PodBuilder:
        anti = self._spec.setdefault("affinity", {}).setdefault("podAntiAffinity", {})
        term = {"labelSelector": {"matchLabels": dict(match)}, "topologyKey": "kubernetes.io/hostname"}
        if required:
            anti.setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(term)
        else:
            anti.setdefault("preferredDuringSchedulingIgnoredDuringExecution", []).append({"weight": weight, "podAffinityTerm": term})
        return self

    def strategy(self, strategy: str) -> PodBuilder:
        self._spec["schedulingStrategy"] = strategy
        return self

    def runtime_class(self, name: str) -> PodBuilder:
        self._spec["runtimeClassName"] = name
        return self

    def annotate(self, key: str, value: str) -> PodBuilder:
        self._p["metadata"].setdefault("annotations", {})[key] = value
        return self

    def bound(self, node: str, *, isolation: str | None = None, phase: str = "Running") -> PodBuilder:
        self._spec["nodeName"] = node
        if isolation:
            self._spec["binding"] = {"isolation": isolation, "images": {}}
        self._p["status"] = {"phase": phase}
        return self

    def template(self, owner: str, tpl_hash: str = "abc123") -> PodBuilder:
        md = self._p["metadata"]
        md["labels"]["pod-template-hash"] = tpl_hash
        md["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "uid": f"uid-{owner}"}]
        return self

    def obj(self) -> dict:
        return copy.deepcopy(self._p)


def make_node(name: str) -> NodeBuilder:
    return NodeBuilder(name)


def make_pod(name: str = "p", *, namespace: str = "default") -> PodBuilder:
    return PodBuilder(name, namespace=namespace)
