"""Pure pod rules the controllers and `mixctl drain` share."""

from __future__ import annotations

import pytest

from mixfleet.api import pods as P
from mixfleet.controlplane.controllers.nodelifecycle import (
    UNREACHABLE_TAINT,
    mark_reachable,
    mark_unreachable,
)


def _pod(name: str, *, node: str = "n1", phase: str = "Running", ready: str | None = "True",
         created: str = "2026-01-01T00:00:00Z", probe: bool = False, deleting: bool = False) -> dict:
    container: dict = {"name": "c", "image": "x"}
    if probe:
        container["readinessProbe"] = {"exec": {"command": ["true"]}}
    meta: dict = {"name": name, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:09Z"
    status: dict = {"phase": phase}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready}]
    return {"metadata": meta, "spec": {"nodeName": node, "containers": [container]}, "status": status}


@pytest.mark.parametrize(
    "pod,available",
    [
        pytest.param(_pod("a"), True, id="running-ready"),
        pytest.param(_pod("a", ready="False"), False, id="running-not-ready"),
        pytest.param(_pod("a", ready=None), True, id="running-no-probe-no-condition"),
        pytest.param(_pod("a", ready=None, probe=True), False, id="probe-not-yet-reported"),
        pytest.param(_pod("a", phase="Pending", ready=None), False, id="pending"),
        pytest.param(_pod("a", deleting=True), False, id="being-deleted"),
        pytest.param(_pod("a", phase="Failed"), False, id="failed"),
    ],
)
def test_is_available(pod: dict, available: bool) -> None:
    """Available means Running, not being deleted, and Ready when a check says so."""
    assert P.is_available(pod) is available


def test_scale_down_order() -> None:
    """Unscheduled, then pending, then not ready, then the newest ready pod go first."""
    pods = [
        _pod("old-ready", created="2026-01-01T00:00:00Z"),
        _pod("new-ready", created="2026-01-01T00:00:00.500000Z"),
        _pod("not-ready", ready="False"),
        _pod("pending", phase="Pending", ready=None),
        _pod("unscheduled", node="", phase="Pending", ready=None),
    ]
    order = [p["metadata"]["name"] for p in sorted(pods, key=P.deletion_rank)]
    assert order == ["unscheduled", "pending", "not-ready", "new-ready", "old-ready"]


@pytest.mark.parametrize(
    "tolerations,tolerated",
    [
        pytest.param([], False, id="none"),
        pytest.param([{"operator": "Exists"}], True, id="exists-everything"),
        pytest.param([{"key": UNREACHABLE_TAINT["key"], "operator": "Exists", "effect": "NoExecute"}],
                     True, id="exact"),
        pytest.param([{"key": UNREACHABLE_TAINT["key"], "operator": "Exists", "effect": "NoExecute",
                       "tolerationSeconds": 300}], False, id="bounded-is-evicted"),
        pytest.param([{"key": "other", "operator": "Exists"}], False, id="other-key"),
        pytest.param([{"key": UNREACHABLE_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}],
                     False, id="other-effect"),
    ],
)
def test_tolerates_unreachable(tolerations: list, tolerated: bool) -> None:
    """Only a toleration without a time bound keeps a pod on an unreachable node."""
    pod = _pod("a")
    pod["spec"]["tolerations"] = tolerations
    assert P.tolerates(pod, UNREACHABLE_TAINT) is tolerated


def test_unreachable_and_back_keeps_the_nodes_own_taints() -> None:
    """Marking a node unreachable and reachable again touches only Ready and our taint."""
    node = {"metadata": {"name": "n1"},
            "spec": {"taints": [{"key": "os", "value": "windows", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "AgentReady"},
                                      {"type": "EngineReady", "status": "True"}]}}
    lost = mark_unreachable(node, silent_for=5)
    ready = {c["type"]: c for c in lost["status"]["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert [t["key"] for t in lost["spec"]["taints"]] == ["os", UNREACHABLE_TAINT["key"]]
    back = mark_reachable(lost)
    ready = {c["type"]: c for c in back["status"]["conditions"]}["Ready"]
    assert ready["status"] == "True"
    assert back["spec"]["taints"] == node["spec"]["taints"]
    assert {c["type"] for c in back["status"]["conditions"]} == {"Ready", "EngineReady"}
