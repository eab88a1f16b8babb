"""The DaemonSet controller's decisions (controllers/daemonplan.py): which pods to make and
delete per node, and the rolling update within maxUnavailable / maxSurge."""

from __future__ import annotations

import itertools

import pytest

from mixfleet.api import daemonsets as D
from mixfleet.controlplane.controllers import daemonplan as plan
from mixfleet.scheduler.daemons import RUN, Verdict

NEW, OLD = "new", "old"
_seq = itertools.count()


def pod(node: str, rev: str = NEW, *, ready: bool = True, phase: str = "Running", deleting: bool = False) -> dict:
    n = next(_seq)
    p: dict = {
        "metadata": {"name": f"p{n}", "labels": {D.REVISION_HASH: rev},
                     "creationTimestamp": f"2026-12-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"},
        "spec": D.pin_to_node({"containers": [{"name": "c", "image": "i"}]}, node) | {"nodeName": node},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-12-01T00:01:00Z"
    return p


def names(pods: list) -> set[str]:
    return {p["metadata"]["name"] for p in pods}


def step(pods: list[dict], verdicts: dict[str, Verdict], *, surge: int = 0, unavailable: int = 1,
         hold: dict | None = None) -> plan.Step:
    """What one sync does: manage first, the rolling update only when manage has nothing."""
    by_node, unpinned = plan.group(pods)
    s = plan.manage(verdicts, by_node, unpinned, revision=NEW, surge=surge > 0, hold=hold or {})
    return s or plan.rolling_update(verdicts, by_node, revision=NEW, max_surge=surge, max_unavailable=unavailable,
                                    wake=s.wake)


SKIP = Verdict(False, False, "node OS is linux, pod needs windows")
KEEP = Verdict(False, True, "node(s) had untolerated taint {gpu}")


def test_manage_one_pod_per_eligible_node() -> None:
    """A node that should run the daemon and has none gets one; a skipped node loses its
    pod; a NoSchedule-tainted node keeps a running one but gets none new; the younger of
    two pods on one node goes."""
    a_old, a_young = pod("a"), pod("a")
    skipped, kept = pod("s"), pod("k")
    s = step([a_old, a_young, skipped, kept], {"a": RUN, "b": RUN, "s": SKIP, "k": KEEP, "t": KEEP})
    assert s.create == ["b"]
    assert names(s.delete) == names([a_young, skipped])


def test_failed_pod_is_replaced_after_its_backoff() -> None:
    """A failed pod is deleted and reported; the replacement waits while the node is held."""
    failed = pod("a", phase="Failed")
    s = step([failed], {"a": RUN})
    assert names(s.delete) == names([failed]) and s.failed_on == ["a"] and s.create == []
    s = step([], {"a": RUN}, hold={"a": 2.0})
    assert not s and s.wake == 2.0
    assert step([], {"a": RUN}).create == ["a"]


def test_pod_for_a_node_that_is_gone_is_deleted_unless_bound() -> None:
    """An unbound pod pinned to a missing node goes; a bound one is the pod GC's."""
    unbound = pod("gone")
    del unbound["spec"]["nodeName"]
    bound = pod("gone2")
    assert names(step([unbound, bound], {}).delete) == names([unbound])


@pytest.mark.parametrize(
    ("pods", "unavailable", "deleted"),
    [
        pytest.param([OLD, OLD, OLD, OLD], 1, 1, id="one-at-a-time"),
        pytest.param([OLD, OLD, OLD, OLD], 2, 2, id="two-at-a-time"),
        pytest.param([NEW + "-unready", OLD, OLD, OLD], 1, 0, id="waits-for-the-new-pod"),
        pytest.param([NEW + "-unready", OLD, OLD, OLD], 2, 1, id="one-left-in-the-budget"),
        pytest.param([OLD + "-unready", OLD, OLD, OLD], 1, 2, id="unready-old-pod-costs-nothing"),
        pytest.param([NEW, NEW, NEW, NEW], 1, 0, id="done"),
    ],
)
def test_rolling_update_deletes_within_max_unavailable(pods: list[str], unavailable: int, deleted: int) -> None:
    """Old pods are deleted while fewer than maxUnavailable nodes lack an available pod."""
    made = [pod(f"n{i}", kind.split("-")[0], ready=not kind.endswith("unready")) for i, kind in enumerate(pods)]
    s = step(made, {f"n{i}": RUN for i in range(len(pods))}, unavailable=unavailable)
    assert s.create == [] and len(s.delete) == deleted
    assert all(p["metadata"]["labels"][D.REVISION_HASH] == OLD for p in s.delete)


def test_rolling_update_never_breaks_the_budget() -> None:
    """Simulated to the end (new pods become ready when the controller has nothing to do),
    at most maxUnavailable of 5 nodes are without an available pod at any step."""
    nodes = {f"n{i}": RUN for i in range(5)}
    pods = [pod(n, OLD) for n in nodes]
    revs = lambda: sorted(p["metadata"]["labels"][D.REVISION_HASH] for p in pods)  # noqa: E731
    for _ in range(40):
        s = step(pods, nodes, unavailable=2)
        if not s:
            if revs() == [NEW] * 5:
                break
            pods = [pod(p["spec"]["nodeName"], p["metadata"]["labels"][D.REVISION_HASH]) for p in pods]  # ready now
            continue
        gone = names(s.delete)
        pods = [p for p in pods if p["metadata"]["name"] not in gone] + [pod(n, NEW, ready=False) for n in s.create]
        available = {p["spec"]["nodeName"] for p in pods if p["status"]["conditions"][0]["status"] == "True"}
        assert len(available) >= 3
    assert revs() == [NEW] * 5


def test_surge_makes_the_new_pod_before_removing_the_old() -> None:
    """maxSurge 1: a new pod next to an old one on one node; the old one goes once the new
    one is ready, and only then does the next node surge."""
    nodes = {"a": RUN, "b": RUN}
    a_old, b_old = pod("a", OLD), pod("b", OLD)
    assert step([a_old, b_old], nodes, surge=1, unavailable=0).create == ["a"]
    a_new = pod("a", NEW, ready=False)
    s = step([a_old, b_old, a_new], nodes, surge=1, unavailable=0)
    assert not s  # waiting for a's new pod
    a_new = pod("a", NEW)
    s = step([a_old, b_old, a_new], nodes, surge=1, unavailable=0)
    assert names(s.delete) == names([a_old]) and s.create == []


def test_status_counts_and_skip_message() -> None:
    """Kubernetes' counts per node, and one line naming the skipped nodes by reason."""
    ds = {"metadata": {"generation": 3}}
    by_node, _ = plan.group([pod("a"), pod("b", OLD, ready=False), pod("s")])
    verdicts = {"a": RUN, "b": RUN, "c": RUN, "s": SKIP, "t": SKIP, "w": Verdict(False, False, "other")}
    st = plan.status(ds, verdicts, by_node, revision=NEW)
    assert {k: v for k, v in st.items() if k != "conditions"} == {
        "observedGeneration": 3, "desiredNumberScheduled": 3, "currentNumberScheduled": 2,
        "numberMisscheduled": 1, "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1,
        "numberUnavailable": 2,
    }
    assert st["conditions"][0]["message"] == (  # type: ignore[index]
        "skipped 3 of 6 nodes: s, t (node OS is linux, pod needs windows); w (other)")
    many = {f"n{i}": SKIP for i in range(5)}
    assert plan.skipped_message(many).endswith("n0, n1, n2 and 2 more (node OS is linux, pod needs windows)")
