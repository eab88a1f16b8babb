"""describe text for a pod the scheduler could not place and for a node with pods."""

from __future__ import annotations

from datetime import datetime, timezone

from mixfleet.mixctl.printers.describe import (
    describe_generic,
    describe_node,
    describe_pod,
)

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
MSG = "0/12 nodes are available: 7 node OS is windows, pod needs linux; 5 insufficient memory."

PENDING = {
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"},
                 "creationTimestamp": "2026-11-26T11:59:00Z"},
    "spec": {"containers": [{"name": "httpd", "image": "busybox",
                             "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}}}]},
    "status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": MSG}]},
}
EVENT = {"kind": "Event", "metadata": {"name": "e1"}, "type": "Warning", "reason": "FailedScheduling",
         "involvedObject": {"kind": "Pod", "name": "web-0"}, "message": MSG,
         "source": {"component": "mixfleet-scheduler"}, "lastTimestamp": "2026-11-26T11:59:55Z"}


def test_unschedulable_pod_shows_scheduler_message_and_event() -> None:
    """The PodScheduled=False condition and the FailedScheduling event carry the reason."""
    text = describe_pod(PENDING, [EVENT], now=NOW)
    lines = text.splitlines()
    assert ["Name:", "web-0"] in [line.split() for line in lines]
    assert ["Status:", "Pending"] in [line.split() for line in lines]
    assert any(line.split()[:3] == ["PodScheduled", "False", "Unschedulable"] and line.endswith(MSG) for line in lines)
    assert any(line.split()[:3] == ["Warning", "FailedScheduling", "5s"] and line.endswith(MSG) for line in lines)
    assert "      cpu:    100m" in lines  # limits, indented under the container


def test_no_events_is_said() -> None:
    """An object without events says so rather than printing an empty table."""
    assert describe_pod(PENDING, [], now=NOW).rstrip().endswith("Events:  No events.")
    assert describe_generic({"kind": "Namespace", "metadata": {"name": "x"}}, [], now=NOW).rstrip().endswith(
        "No events.")


def test_node_lists_platform_taints_and_pod_requests() -> None:
    """A node's describe shows its platform facts, taints and what its pods request."""
    node = {
        "kind": "Node",
        "metadata": {"name": "win-a", "labels": {"kubernetes.io/os": "windows"}},
        "spec": {"taints": [{"key": "os", "value": "windows", "effect": "NoSchedule"}]},
        "status": {"platform": {"osBuild": 20348, "osVersion": "10.0.20348.2655", "isolationModes": ["process", "hyperv"]},
                   "nodeInfo": {"operatingSystem": "windows"}, "allocatable": {"cpu": "8", "memory": "31Gi"},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "AgentReady"}]},
    }
    pod = {"kind": "Pod", "metadata": {"name": "iis", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}
    text = describe_node(node, [pod, pod], [], now=NOW)
    assert ["Taints:", "os=windows:NoSchedule"] in [line.split() for line in text.splitlines()]
    assert ["OS/Build:", "windows/20348"] in [line.split() for line in text.splitlines()]
    assert "Non-terminated Pods:  (2 in total)" in text
    assert any(line.split() == ["cpu", "1", "8"] for line in text.splitlines())
    assert any(line.split() == ["memory", "2Gi", "31Gi"] for line in text.splitlines())
