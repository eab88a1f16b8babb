"""What one DaemonSet sync decides, and what it costs: ``python -m benchmarks.daemonset
[--nodes 5000] [--rounds 5]``.

A mixed fleet (70% Linux, 30% Windows over builds 17763, 20348 and 26100, some tainted or
labelled differently) and a Windows DaemonSet of Nano Server ltsc2022 with one pod on every
node that should run it, half of them of an older template: per round, the platform verdict
for every node (scheduler/daemons.py, once per node class), grouping the pods by node, the
manage and rolling-update steps and the status (controllers/daemonplan.py), the same work a
controller sync does from its caches. Median milliseconds per part over ``--rounds``.

The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any, Callable

from mixfleet.api import daemonsets as D
from mixfleet.controlplane.controllers import daemonplan as plan
from mixfleet.scheduler.daemons import node_verdicts

IMAGE = "mcr.microsoft.com/windows/nanoserver:ltsc2022"


def _node(i: int, rng: random.Random) -> dict[str, Any]:
    name = f"node-{i:05d}"
    windows = rng.random() < 0.3
    build = rng.choice((17763, 20348, 26100))
    labels = {"kubernetes.io/os": "windows" if windows else "linux", "kubernetes.io/hostname": name,
              "zone": f"z{i % 3}"}
    platform: dict[str, Any] = {"kernelVersion": "6.1.0-18-amd64"}
    if windows:
        labels["node.kubernetes.io/windows-build"] = f"10.0.{build}"
        platform = {"osVersion": f"10.0.{build}.1000", "windowsEdition": "server",
                    "isolationModes": ["process", "hyperv"] if rng.random() < 0.3 else ["process"]}
    taints = [{"key": "os", "value": "windows", "effect": "NoSchedule"}] if windows else []
    if rng.random() < 0.05:
        taints.append({"key": "dedicated", "value": "db", "effect": "NoSchedule"})
    res = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    return {"kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": {"taints": taints},
            "status": {"allocatable": res, "capacity": res, "platform": platform,
                       "nodeInfo": {"operatingSystem": labels["kubernetes.io/os"], "architecture": "amd64"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def _daemonset() -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "mon", "namespace": "default", "uid": "u1", "generation": 2},
            "spec": {"selector": {"matchLabels": {"app": "mon"}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
                     "template": {"metadata": {"labels": {"app": "mon"}}, "spec": {
                         "nodeSelector": {"kubernetes.io/os": "windows"},
                         "tolerations": [{"key": "os", "operator": "Equal", "value": "windows",
                                          "effect": "NoSchedule"}],
                         "containers": [{"name": "m", "image": IMAGE}]}}}}


def _pods(verdicts: dict[str, Any], revision: str) -> list[dict[str, Any]]:
    out = []
    for i, name in enumerate(sorted(n for n, v in verdicts.items() if v.should_run)):
        rev = revision if i % 2 else "older"
        out.append({"metadata": {"name": f"mon-{i}", "labels": {D.REVISION_HASH: rev},
                                 "creationTimestamp": "2026-12-01T00:00:00Z"},
                    "spec": {**D.pin_to_node({}, name), "nodeName": name},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    return out


def _median_ms(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2), result


def run(nodes: int, rounds: int) -> dict[str, Any]:
    rng = random.Random(7)
    fleet = [_node(i, rng) for i in range(nodes)]
    ds = _daemonset()
    revision = D.revision_hash(ds)
    verdict_ms, verdicts = _median_ms(lambda: node_verdicts(D.template_pod(ds), fleet), rounds)
    pods = _pods(verdicts, revision)
    group_ms, (by_node, unpinned) = _median_ms(lambda: plan.group(pods), rounds)
    desired = sum(1 for v in verdicts.values() if v.should_run)
    surge, unavailable = D.surge_and_unavailable(ds, desired)

    def decide() -> plan.Step:
        step = plan.manage(verdicts, by_node, unpinned, revision=revision, surge=False, hold={})
        return step or plan.rolling_update(verdicts, by_node, revision=revision, max_surge=surge,
                                           max_unavailable=unavailable)

    decide_ms, step = _median_ms(decide, rounds)
    status_ms, status = _median_ms(lambda: plan.status(ds, verdicts, by_node, revision=revision), rounds)
    return {
        "nodes": nodes, "desired": desired, "skipped": nodes - desired, "pods": len(pods),
        "deleted_this_step": len(step.delete), "max_unavailable": unavailable,
        "verdicts_ms": verdict_ms, "group_ms": group_ms, "decide_ms": decide_ms, "status_ms": status_ms,
        "sync_ms": round(verdict_ms + group_ms + decide_ms + status_ms, 2),
        "skip_message_chars": len(plan.skipped_message(verdicts)),
        "updated": status["updatedNumberScheduled"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    print(json.dumps(run(args.nodes, args.rounds), sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
