"""Printers: ages, pod and node status words, aligned tables, -o output."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml

from mixfleet.api.kinds import lookup
from mixfleet.mixctl.printers import columns, output, table
from mixfleet.mixctl.printers.age import age, format_age
from mixfleet.mixctl.printers.podstatus import pod_ready, pod_restarts, pod_status

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        pytest.param(0, "0s", id="zero"),
        pytest.param(-0.5, "0s", id="clock-skew-small"),
        pytest.param(-5, "<invalid>", id="clock-skew-large"),
        pytest.param(5, "5s", id="seconds"),
        pytest.param(119, "119s", id="under-two-minutes"),
        pytest.param(180, "3m", id="minutes-even"),
        pytest.param(200, "3m20s", id="minutes-and-seconds"),
        pytest.param(3600, "60m", id="an-hour-in-minutes"),
        pytest.param(2 * 3600 + 59 * 60, "179m", id="under-three-hours"),
        pytest.param(3 * 3600 + 30 * 60, "3h30m", id="hours-and-minutes"),
        pytest.param(10 * 3600, "10h", id="hours"),
        pytest.param(4 * 86400, "4d", id="days"),
        pytest.param(4 * 86400 + 5 * 3600, "4d5h", id="days-and-hours"),
        pytest.param(30 * 86400, "30d", id="month"),
        pytest.param(3 * 365 * 86400 + 10 * 86400, "3y10d", id="years-and-days"),
        pytest.param(10 * 365 * 86400, "10y", id="years"),
    ],
)
def test_format_age_like_kubectl(seconds: float, shown: str) -> None:
    """Ages read like kubectl's: 5s, 3m20s, 2h, 4d."""
    assert format_age(seconds) == shown


def test_age_of_missing_timestamp_is_unknown() -> None:
    """An object without creationTimestamp shows <unknown>, not a crash."""
    assert age(None, now=NOW) == "<unknown>"
    assert age((NOW - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ"), now=NOW) == "3m"


def _pod(phase: str = "Pending", *, node: str = "", statuses: list | None = None, deleting: bool = False,
         reason: str = "", containers: int = 1) -> dict:
    pod: dict = {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": f"c{i}", "image": "img"} for i in range(containers)]},
        "status": {"phase": phase},
    }
    if node:
        pod["spec"]["nodeName"] = node
    if statuses is not None:
        pod["status"]["containerStatuses"] = statuses
    if deleting:
        pod["metadata"]["deletionTimestamp"] = "2026-11-26T11:59:00Z"
    if reason:
        pod["status"]["reason"] = reason
    return pod


def _cs(state: dict, *, ready: bool = False, restarts: int = 0, last: dict | None = None) -> dict:
    return {"name": "c0", "state": state, "ready": ready, "restartCount": restarts, "lastState": last or {}}


@pytest.mark.parametrize(
    ("pod", "status"),
    [
        pytest.param(_pod(), "Pending", id="unscheduled"),
        pytest.param(_pod(node="n1"), "ContainerCreating", id="bound-no-containers-yet"),
        pytest.param(_pod(node="n1", statuses=[_cs({"waiting": {"reason": "ContainerCreating"}})]),
                     "ContainerCreating", id="waiting-creating"),
        pytest.param(_pod("Running", node="n1", statuses=[_cs({"running": {}}, ready=True)]), "Running",
                     id="running"),
        pytest.param(_pod("Running", node="n1", statuses=[_cs({"waiting": {"reason": "CrashLoopBackOff"}})]),
                     "CrashLoopBackOff", id="crashloop"),
        pytest.param(_pod("Pending", node="n1", statuses=[_cs({"waiting": {"reason": "ErrImagePull"}})]),
                     "ErrImagePull", id="image-pull"),
        pytest.param(_pod("Succeeded", node="n1", statuses=[_cs({"terminated": {"exitCode": 0, "reason": "Completed"}})]),
                     "Completed", id="completed"),
        pytest.param(_pod("Succeeded", node="n1", statuses=[_cs({"terminated": {"exitCode": 0}})]),
                     "Completed", id="exit-0-no-reason"),
        pytest.param(_pod("Failed", node="n1", statuses=[_cs({"terminated": {"exitCode": 2}})]),
                     "Error", id="exit-nonzero-no-reason"),
        pytest.param(_pod("Failed", node="n1"), "Error", id="failed-without-containers"),
        pytest.param(_pod("Running", node="n1", statuses=[_cs({"running": {}}, ready=True)], deleting=True),
                     "Terminating", id="terminating"),
        pytest.param(_pod("Running", node="n1", deleting=True, reason="NodeLost"), "Unknown", id="node-lost"),
        pytest.param(_pod("Failed", reason="Evicted"), "Evicted", id="pod-reason-wins"),
    ],
)
def test_pod_status_word(pod: dict, status: str) -> None:
    """STATUS shows the most specific word kubectl would."""
    assert pod_status(pod) == status


def test_ready_and_restarts_columns() -> None:
    """READY counts ready containers over declared ones; RESTARTS adds when the last one was."""
    pod = _pod("Running", node="n1", containers=2, statuses=[
        _cs({"running": {}}, ready=True, restarts=3,
            last={"terminated": {"exitCode": 1, "finishedAt": "2026-11-26T11:58:00Z"}}),
    ])
    assert pod_ready(pod) == "1/2"
    assert pod_restarts(pod, now=NOW) == "3 (2m ago)"
    assert pod_restarts(_pod(), now=NOW) == "0"


def _node(ready: str = "True", *, unschedulable: bool = False) -> dict:
    return {
        "kind": "Node",
        "metadata": {"name": "win-a", "creationTimestamp": "2026-11-22T12:00:00Z",
                     "labels": {"kubernetes.io/os": "windows", "node-role.kubernetes.io/worker": ""}},
        "spec": {"unschedulable": unschedulable},
        "status": {
            "conditions": [{"type": "Ready", "status": ready}],
            "nodeInfo": {"operatingSystem": "windows", "osImage": "Windows Server 2022 Datacenter",
                         "kernelVersion": "10.0.20348.2655", "containerRuntimeVersion": "docker://24.0.7"},
            "platform": {"osBuild": 20348, "isolationModes": ["process", "hyperv"]},
            "allocatable": {"cpu": "8", "memory": "31Gi"},
        },
    }


@pytest.mark.parametrize(
    ("node", "status"),
    [
        pytest.param(_node(), "Ready", id="ready"),
        pytest.param(_node("Unknown"), "NotReady", id="unknown-is-notready"),
        pytest.param(_node("False"), "NotReady", id="notready"),
        pytest.param(_node(unschedulable=True), "Ready,SchedulingDisabled", id="cordoned"),
    ],
)
def test_node_status_word(node: dict, status: str) -> None:
    """Node STATUS is Ready/NotReady, with SchedulingDisabled when cordoned."""
    assert columns.node_status(node) == status


def test_node_wide_row() -> None:
    """-o wide shows the platform facts a mixed fleet is placed by."""
    kind = lookup("no")
    opts = columns.TableOptions(wide=True)
    assert columns.headers(kind, opts) == [
        "NAME", "STATUS", "ROLES", "AGE", "VERSION",
        "OS-IMAGE", "KERNEL-VERSION", "OS/BUILD", "ISOLATION", "CPU", "MEMORY",
    ]
    assert columns.row(kind, _node(), opts, now=NOW) == [
        "win-a", "Ready", "worker", "4d", "docker://24.0.7",
        "Windows Server 2022 Datacenter", "10.0.20348.2655", "windows/20348", "process,hyperv", "8", "31Gi",
    ]


def test_all_namespaces_and_kind_prefix() -> None:
    """-A adds NAMESPACE first; several kinds name rows kind/name (group-qualified)."""
    kind = lookup("deploy")
    opts = columns.TableOptions(all_namespaces=True, kind_prefix=True)
    obj = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"}, "spec": {"replicas": 2},
           "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}}
    assert columns.headers(kind, opts)[:2] == ["NAMESPACE", "NAME"]
    assert columns.row(kind, obj, opts, now=NOW) == ["prod", "deployment.apps/web", "1/2", "2", "1", "<unknown>"]


def test_event_rows_have_no_name_and_sort_by_time() -> None:
    """Events are listed by what they concern, oldest first."""
    kind = lookup("ev")
    newer = {"kind": "Event", "metadata": {"name": "b"}, "type": "Warning", "reason": "FailedScheduling",
             "involvedObject": {"kind": "Pod", "name": "web-0"}, "message": "0/3 nodes are available",
             "lastTimestamp": "2026-11-26T11:59:55Z"}
    older = {**newer, "metadata": {"name": "a"}, "type": "Normal", "reason": "Scheduled",
             "lastTimestamp": "2026-11-26T11:00:00Z"}
    rows = columns.rows(kind, [newer, older], columns.TableOptions(), now=NOW)
    assert columns.headers(kind, columns.TableOptions()) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert rows == [
        ["60m", "Normal", "Scheduled", "pod/web-0", "0/3 nodes are available"],
        ["5s", "Warning", "FailedScheduling", "pod/web-0", "0/3 nodes are available"],
    ]


def test_table_columns_align_without_trailing_spaces() -> None:
    """Every column starts at the same offset on every line; lines end without padding."""
    text = table.render(["NAME", "STATUS", "AGE"], [["a", "Running", "5s"], ["longer-name", "Pending", "3m"]])
    lines = text.splitlines()
    assert lines == [
        "NAME          STATUS    AGE",
        "a             Running   5s",
        "longer-name   Pending   3m",
    ]


def test_output_one_object_or_list() -> None:
    """-o yaml prints one named object as itself, several as kind: List; -o name prints refs."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0"}}
    assert yaml.safe_load(output.render("yaml", [pod], single=True)) == pod
    many = yaml.safe_load(output.render("yaml", [pod, pod], single=False))
    assert many["kind"] == "List" and len(many["items"]) == 2
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    assert output.render("name", [pod, dep], single=False) == "pod/web-0\ndeployment.apps/web\n"
