"""A synthetic mixed fleet and workload for the scheduler benchmark, reproducible from a seed.

Fleet: ~70% Linux (kernels 5.4/5.10/6.1, 10% arm64, 5% GPU nodes tainted
dedicated=gpu:NoSchedule), ~30% Windows Server (builds 17763/20348/26100 in a 30/45/25
mix, all tainted os=windows:NoSchedule, 40% Hyper-V capable, each holding its servercore
base image), sizes 4-32 CPUs, three zones.

Workload: a few hundred Deployment templates (pods share ``pod-template-hash`` and an owner,
as the Deployment controller makes them); ~80% Linux (some with kernel minimums, zone or
arch selectors, anti-affinity), ~20% Windows (build per the fleet's mix, isolation
auto/process/hyperv, some with per-build image overrides, some whose image build is only
learned from the nodes). Template popularity is skewed (a few big Deployments, a long tail).
Pod sizes are natural (100m-2 CPU, 128Mi-4Gi) unless the batch would ask for more than
``load`` of the fleet's CPU; then every request is scaled down to that load.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

GI = 1 << 30
LINUX_SHAPES = [(4, 16), (8, 32), (16, 64), (32, 128)]
WINDOWS_SHAPES = [(4, 16), (8, 32), (16, 64)]
BUILDS = [(17763, 0.30), (20348, 0.45), (26100, 0.25)]
KERNELS = ["5.4.0-150-generic", "5.10.0-28-amd64", "6.1.0-18-amd64"]
ZONES = ["a", "b", "c"]
CPU_CHOICES = [100, 250, 500, 1000, 2000]  # millicores
MEM_CHOICES = [128, 256, 512, 1024, 2048, 4096]  # MiB
SERVERCORE = "mcr.microsoft.com/windows/servercore:{tag}"
TAGS = {17763: "ltsc2019", 20348: "ltsc2022", 26100: "ltsc2025"}


@dataclass(frozen=True, slots=True)
class Workload:
    nodes: list[dict]
    pods: list[dict]
    templates: int


def _pick_build(rng: random.Random) -> int:
    return rng.choices([b for b, _ in BUILDS], weights=[w for _, w in BUILDS])[0]


def make_nodes(n: int, rng: random.Random) -> list[dict]:
    return [_linux_node(i, rng) if rng.random() < 0.7 else _windows_node(i, rng) for i in range(n)]


def _base_node(name: str, os_name: str, arch: str, cpu: int, mem_gi: int, zone: str) -> dict:
    alloc = {"cpu": str(cpu), "memory": f"{mem_gi}Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/os": os_name, "kubernetes.io/arch": arch, "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}},
        "spec": {},
        "status": {
            "capacity": dict(alloc),
            "allocatable": alloc,
            "nodeInfo": {"operatingSystem": os_name, "architecture": arch},
            "conditions": [{"type": "Ready", "status": "True"}],
            "images": [],
        },
    }


def _linux_node(i: int, rng: random.Random) -> dict:
    cpu, mem = rng.choice(LINUX_SHAPES)
    arch = "arm64" if rng.random() < 0.1 else "amd64"
    node = _base_node(f"linux-{i:05d}", "linux", arch, cpu, mem, rng.choice(ZONES))
    node["status"]["platform"] = {"kernelVersion": rng.choice(KERNELS)}
    if rng.random() < 0.05:
        node["metadata"]["labels"]["gpu"] = "true"
        node["spec"]["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    return node


def _windows_node(i: int, rng: random.Random) -> dict:
    cpu, mem = rng.choice(WINDOWS_SHAPES)
    build = _pick_build(rng)
    node = _base_node(f"win-{build}-{i:05d}", "windows", "amd64", cpu, mem, rng.choice(ZONES))
    node["metadata"]["labels"]["node.kubernetes.io/windows-build"] = f"10.0.{build}"
    node["spec"]["taints"] = [{"key": "os", "value": "windows", "effect": "NoSchedule"}]
    hyperv = rng.random() < 0.4
    node["status"]["platform"] = {
        "osVersion": f"10.0.{build}.{rng.randint(1000, 3000)}",
        "osBuild": build,
        "windowsEdition": "server",
        "isolationModes": ["process", "hyperv"] if hyperv else ["process"],
        "hypervOverhead": {"cpu": "100m", "memory": "512Mi"},
    }
    node["status"]["images"] = [
        {"names": [SERVERCORE.format(tag=TAGS[build])], "os": "windows", "architecture": "amd64", "osVersion": f"10.0.{build}.1000", "sizeBytes": 5 * GI}
    ]
    return node


def make_templates(count: int, rng: random.Random) -> list[dict]:
    return [_linux_template(t, rng) if rng.random() < 0.8 else _windows_template(t, rng) for t in range(count)]


def _container(image: str, cpu: int, mem: int) -> dict:
    return {"name": "app", "image": image, "resources": {"requests": {"cpu": f"{cpu}m", "memory": f"{mem}Mi"}}}


def _linux_template(t: int, rng: random.Random) -> dict:
    spec: dict = {"containers": [_container(f"example/svc-{t}:1", rng.choice(CPU_CHOICES), rng.choice(MEM_CHOICES))]}
    roll = rng.random()
    if roll < 0.15:
        spec["platform"] = {"minKernelVersion": rng.choice(["5.10", "6.1"])}
    elif roll < 0.25:
        spec["nodeSelector"] = {"topology.kubernetes.io/zone": rng.choice(ZONES)}
    elif roll < 0.30:
        spec["nodeSelector"] = {"kubernetes.io/arch": "arm64"}
    elif roll < 0.35:
        spec["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": f"t{t}"}}, "topologyKey": "kubernetes.io/hostname"}}]}}
    elif roll < 0.38:
        spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": f"t{t}"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    return {"spec": spec, "required_anti": roll >= 0.35 and roll < 0.38}


def _windows_template(t: int, rng: random.Random) -> dict:
    build = _pick_build(rng)
    isolation = rng.choices(["auto", "process", "hyperv"], weights=[0.6, 0.3, 0.1])[0]
    cpu, mem = rng.choice(CPU_CHOICES[1:]), rng.choice(MEM_CHOICES[3:])
    roll = rng.random()
    platform: dict = {"os": "windows", "isolation": isolation}
    if roll < 0.1:
        image = SERVERCORE.format(tag=TAGS[build])  # build learned from the nodes' images
    elif roll < 0.2:
        image = f"example/win-{t}:ltsc2022"
        platform["osVersion"] = "10.0.20348.2655"
        platform["imageOverrides"] = [{"osVersion": f"10.0.{b}", "image": f"example/win-{t}:{TAGS[b]}"} for b in (17763, 26100)]
    else:
        image = f"example/win-{t}:{TAGS[build]}"
        platform["osVersion"] = f"10.0.{build}.1000"
    spec = {
        "containers": [_container(image, cpu, mem)],
        "platform": platform,
        "tolerations": [{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}],
    }
    return {"spec": spec, "required_anti": False}


def make_workload(*, nodes: int, pods: int, templates: int, seed: int, load: float = 0.7) -> Workload:
    rng = random.Random(seed)
    fleet = make_nodes(nodes, rng)
    tpls = make_templates(templates, rng)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(tpls))]  # Zipf-like popularity
    counts = [0] * len(tpls)
    for i in rng.choices(range(len(tpls)), weights=weights, k=pods):
        counts[i] += 1
    _cap_required_anti(tpls, counts, nodes)
    _scale(tpls, counts, fleet, load)
    out = [_pod(t, tpls[t]["spec"], r) for t in range(len(tpls)) for r in range(counts[t])]
    rng.shuffle(out)
    return Workload(fleet, out, len(tpls))


def _cap_required_anti(tpls: list[dict], counts: list[int], nodes: int) -> None:
    """A Deployment with required anti-affinity cannot have more replicas than nodes."""
    for t, tpl in enumerate(tpls):
        if tpl["required_anti"] and counts[t] > nodes // 20:
            counts[t] = nodes // 20


def _scale(tpls: list[dict], counts: list[int], fleet: list[dict], load: float) -> None:
    """Scale requests down (never up) so the batch asks for at most ``load`` of the fleet's CPU."""
    capacity = sum(int(n["status"]["allocatable"]["cpu"]) * 1000 for n in fleet)
    demand = sum(c * int(t["spec"]["containers"][0]["resources"]["requests"]["cpu"][:-1]) for t, c in zip(tpls, counts))
    factor = min(1.0, load * capacity / demand) if demand else 1.0
    for tpl in tpls:
        req = tpl["spec"]["containers"][0]["resources"]["requests"]
        req["cpu"] = f"{max(1, int(int(req['cpu'][:-1]) * factor))}m"
        req["memory"] = f"{max(1, int(int(req['memory'][:-2]) * factor))}Mi"


def _pod(t: int, spec: dict, r: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"t{t}-{r}",
            "namespace": "bench",
            "uid": f"uid-t{t}-{r}",
            "labels": {"app": f"t{t}", "pod-template-hash": f"h{t}"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"t{t}-rs", "uid": f"rs-{t}"}],
        },
        "spec": spec,  # shared by the template's pods, as read from a cache: never mutated
    }
